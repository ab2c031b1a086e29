"""Health views over the loaded sync runs: `sync_health`, `sync_run_daily`, `sync_run_errors`.

Every view reads one common shape of run, built by a small per-source SELECT (a `RunSource`)
and unioned, so a new source (Hightouch, Files.com) is one more `RunSource`. Each view has a
`source` column. Definitions (also in the README, "Monitoring your syncs"):

- outcome: each source maps its statuses to `success`, `failure`, `skipped` or `open`
  (Census: completed, failed, skipped; anything else, e.g. queued or working, is open).
  A *finished* run is a success or a failure; skipped and open runs are neither.
- window (7 or 30 days): runs whose `created_at` is in (now - N days, now].
- failure rate: failed / finished runs in the window; NULL when the window has no finished run.
- consecutive failures: finished runs after the newest success, newest first, all failures
  (order: created_at, then run id); every finished run when the sync never succeeded.
- duration: completed_at - created_at in seconds, for finished runs that have a completed_at;
  p50/p95 are linearly interpolated over the 30-day window.
- day: the UTC date of created_at (a run that crosses midnight counts on the day it started).
- ids: `sync_id` and `run_id` are text, so sources with numeric and string ids share a view;
  among runs created at the same instant, the higher id is the newer.
- records_*: sums over the runs in the window or day (NULL counts as 0).

`now` is the database's CURRENT_TIMESTAMP when the view is queried, or a fixed instant given to
`create_health_views` (tests). The views exist only on SQL destinations (DuckDB, PostgreSQL).
"""

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import dlt

Dialect = Literal["duckdb", "postgres"]
VIEW_NAMES = ("sync_health", "sync_run_daily", "sync_run_errors")
DIALECTS: dict[str, Dialect] = {
    "dlt.destinations.duckdb": "duckdb",
    "dlt.destinations.postgres": "postgres",
}

# the common run shape every RunSource maps to: (column, SQL type)
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sync_id", "text"),
    ("run_id", "text"),
    ("status", "text"),
    ("outcome", "text"),
    ("created_at", "timestamp with time zone"),
    ("completed_at", "timestamp with time zone"),
    ("records_processed", "bigint"),
    ("records_updated", "bigint"),
    ("records_failed", "bigint"),
    ("records_invalid", "bigint"),
    ("error_code", "text"),
    ("error_message", "text"),
    ("error_detail", "text"),
)
SYNC_COLUMNS: tuple[tuple[str, str], ...] = (("sync_id", "text"), ("sync_label", "text"))
# newest first; ids are text (sources differ: numbers, strings), numeric ones ordered as numbers
NEWEST_FIRST = "created_at DESC, LENGTH(run_id) DESC, run_id DESC"


class HealthViewsError(Exception):
    """Bad input for the views, report or check; the message names what to do."""


class NoRunDataError(HealthViewsError):
    """The dataset holds no loaded sync runs: nothing to build the views on."""


class ViewsUnsupportedError(HealthViewsError):
    """The destination is not one the health views are written for."""


@dataclass(frozen=True)
class RunSource:
    """How one source's loaded tables map to the common shape the views read.

    `runs_select` / `syncs_select` are SELECTs with `{runs}` / `{syncs}` in place of the
    qualified table names, returning the columns of RUN_COLUMNS / SYNC_COLUMNS (any order).
    `dataset` None means the pipeline's own dataset.
    """

    name: str
    runs_table: str
    syncs_table: str
    runs_select: str
    syncs_select: str
    dataset: str | None = None


CENSUS = RunSource(
    name="census",
    runs_table="sync_runs",
    syncs_table="syncs",
    runs_select="""
        SELECT sync_id, id AS run_id, status,
               CASE status WHEN 'completed' THEN 'success' WHEN 'failed' THEN 'failure'
                           WHEN 'skipped' THEN 'skipped' ELSE 'open' END AS outcome,
               created_at, completed_at, records_processed, records_updated, records_failed,
               records_invalid, error_code, error_message, error_detail
        FROM {runs}""",
    syncs_select="SELECT id AS sync_id, label AS sync_label FROM {syncs}",
)
HIGHTOUCH = RunSource(
    name="hightouch",
    runs_table="sync_runs",
    syncs_table="syncs",
    # success and warning (done, some rows rejected) succeeded; cancelled runs are neither
    runs_select="""
        SELECT sync_id, id AS run_id, status,
               CASE WHEN status IN ('success', 'warning') THEN 'success'
                    WHEN status IN ('failed', 'interrupted') THEN 'failure'
                    WHEN status = 'cancelled' THEN 'skipped' ELSE 'open' END AS outcome,
               created_at, finished_at AS completed_at,
               planned_rows__added_count + planned_rows__changed_count
                   + planned_rows__removed_count AS records_processed,
               successful_rows__added_count + successful_rows__changed_count
                   + successful_rows__removed_count AS records_updated,
               failed_rows__added_count + failed_rows__changed_count
                   + failed_rows__removed_count AS records_failed,
               CAST(NULL AS bigint) AS records_invalid,
               CAST(NULL AS text) AS error_code, error AS error_message,
               CAST(NULL AS text) AS error_detail
        FROM {runs}""",
    syncs_select="SELECT id AS sync_id, slug AS sync_label FROM {syncs}",
)
FILES_COM = RunSource(
    name="files_com",
    runs_table="sync_runs",
    syncs_table="sync_runs",  # no syncs endpoint: each run carries its sync's name
    # a partial failure (some files failed) counts as a failure; files stand in for records
    runs_select="""
        SELECT sync_id, id AS run_id, status,
               CASE WHEN status = 'success' THEN 'success'
                    WHEN status IN ('failure', 'partial_failure') THEN 'failure'
                    WHEN status = 'skipped' THEN 'skipped' ELSE 'open' END AS outcome,
               created_at, completed_at, compared_files AS records_processed,
               successful_files AS records_updated, errored_files AS records_failed,
               CAST(NULL AS bigint) AS records_invalid, CAST(NULL AS text) AS error_code,
               body AS error_message, CAST(NULL AS text) AS error_detail
        FROM {runs}""",
    syncs_select="SELECT sync_id, MAX(sync_name) AS sync_label FROM {syncs} GROUP BY sync_id",
)
SOURCES: tuple[RunSource, ...] = (CENSUS,)
ALL_SOURCES: dict[str, RunSource] = {s.name: s for s in (CENSUS, HIGHTOUCH, FILES_COM)}


def dialect_of(pipeline: dlt.Pipeline) -> Dialect:
    """The SQL dialect of the pipeline's destination; raises if the views don't support it."""
    destination = pipeline.destination
    kind = destination.destination_type if destination is not None else "none"
    dialect = DIALECTS.get(kind)
    if dialect is None:
        name = destination.destination_name if destination is not None else "no destination"
        raise ViewsUnsupportedError(
            f"Health views need a SQL destination (duckdb or postgres); {name} is not one"
        )
    return dialect


def create_health_views(
    pipeline: dlt.Pipeline,
    sources: Sequence[RunSource] = SOURCES,
    now: datetime | None = None,
    dataset: str | None = None,
) -> list[str]:
    """Create or replace the health views in the pipeline's dataset (or `dataset` of the same
    destination); returns their names.

    Sources without loaded tables are left out; with none at all, NoRunDataError.
    `now` fixes the clock of the 7/30-day windows (default: the time each query runs).
    """
    dialect = dialect_of(pipeline)
    with pipeline.sql_client() as client, _dataset_of(client, dataset):
        statements = []
        for name, body in loaded_view_bodies(client, dialect, sources, now).items():
            qualified = client.make_qualified_table_name(name)
            statements += [f"DROP VIEW IF EXISTS {qualified}", f"CREATE VIEW {qualified} AS {body}"]
        with client.begin_transaction():
            for statement in statements:
                client.execute_sql(statement)
    return list(VIEW_NAMES)


def loaded_view_bodies(
    client: Any, dialect: Dialect, sources: Sequence[RunSource], now: datetime | None = None
) -> dict[str, str]:
    """The SELECT of each view over the sources loaded in the client's destination.

    Reads only (the tables that exist), so a read-only connection can run the views' SQL
    without creating them. Sources without loaded tables are left out; with none at all,
    NoRunDataError.
    """
    runs_parts, syncs_parts = [], []
    for source in sources:
        tables = _existing_tables(client, source.dataset or client.dataset_name)
        if source.runs_table not in tables and source.syncs_table not in tables:
            continue
        runs_parts.append(_source_runs(client, source, tables))
        syncs_parts.append(_source_syncs(client, source, tables))
    if not runs_parts:
        raise no_run_data(client)
    return view_bodies(dialect, runs_parts, syncs_parts, now)


def no_run_data(client: Any) -> NoRunDataError:
    """The error for a dataset (the client's) with no loaded sync runs."""
    return NoRunDataError(
        f"Dataset {client.dataset_name!r} has no loaded sync runs yet: "
        "run `syncruns run` (or `syncruns demo`) first"
    )


def drop_health_views(pipeline: dlt.Pipeline) -> None:
    """Drop the views (PostgreSQL refuses to drop tables that views read: drop these first)."""
    with pipeline.sql_client() as client, client.begin_transaction():
        for name in VIEW_NAMES:
            client.execute_sql(f"DROP VIEW IF EXISTS {client.make_qualified_table_name(name)}")


def health_views_exist(pipeline: dlt.Pipeline, dataset: str | None = None) -> bool:
    """Whether all the views are in the pipeline's dataset (or `dataset`)."""
    with pipeline.sql_client() as client:
        return set(VIEW_NAMES) <= _existing_tables(client, dataset or client.dataset_name)


def ensure_health_views(pipeline: dlt.Pipeline) -> None:
    """Create the views if they are missing (data loaded from Python, or before they existed)."""
    dialect_of(pipeline)
    if not health_views_exist(pipeline):
        create_health_views(pipeline)


def view_bodies(
    dialect: Dialect,
    runs_parts: Sequence[str],
    syncs_parts: Sequence[str],
    now: datetime | None = None,
) -> dict[str, str]:
    """The SELECT of each view, from the per-source run and sync SELECTs."""
    common = (
        f"WITH run_facts AS ({' UNION ALL '.join(runs_parts)}),\n"
        f"sync_facts AS (SELECT source, sync_id, MAX(sync_label) AS sync_label FROM "
        f"({' UNION ALL '.join(syncs_parts)} UNION ALL "
        f"SELECT DISTINCT source, sync_id, CAST(NULL AS text) FROM run_facts) AS s "
        f"GROUP BY source, sync_id)"
    )
    return {
        "sync_health": common + _health_sql(dialect, _now_sql(now)),
        "sync_run_daily": common + _DAILY_SQL,
        "sync_run_errors": common + _ERRORS_SQL,
    }


def _now_sql(now: datetime | None) -> str:
    if now is None:
        return "CURRENT_TIMESTAMP"
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return f"CAST('{now.astimezone(UTC).isoformat()}' AS timestamp with time zone)"


def _existing_tables(client: Any, dataset: str) -> set[str]:
    """Tables and views in a dataset (empty when the dataset does not exist)."""
    rows = client.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", dataset
    )
    return {str(row[0]) for row in rows or []}


def _qualified(client: Any, source: RunSource, table: str) -> str:
    if source.dataset is None:
        return str(client.make_qualified_table_name(table))
    with client.with_alternative_dataset_name(source.dataset):
        return str(client.make_qualified_table_name(table))


def _shaped(source: RunSource, columns: tuple[tuple[str, str], ...], select: str) -> str:
    """The source's SELECT with a `source` column and the common column order and types."""
    casts = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in columns)
    return f"SELECT CAST('{source.name}' AS text) AS source, {casts} FROM ({select}) AS a"


def _empty(columns: tuple[tuple[str, str], ...]) -> str:
    """A typed SELECT with no rows: a source whose table was never created (no data yet)."""
    casts = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns)
    return f"SELECT {casts} WHERE 1 = 0"


def _source_runs(client: Any, source: RunSource, tables: set[str]) -> str:
    if source.runs_table not in tables:
        return _shaped(source, RUN_COLUMNS, _empty(RUN_COLUMNS))
    select = source.runs_select.format(runs=_qualified(client, source, source.runs_table))
    return _shaped(source, RUN_COLUMNS, select)


def _source_syncs(client: Any, source: RunSource, tables: set[str]) -> str:
    if source.syncs_table not in tables:
        return _shaped(source, SYNC_COLUMNS, _empty(SYNC_COLUMNS))
    select = source.syncs_select.format(syncs=_qualified(client, source, source.syncs_table))
    return _shaped(source, SYNC_COLUMNS, select)


_FINISHED = "outcome IN ('success', 'failure')"


def _total(column: str, condition: str | None = None) -> str:
    """SUM as bigint, 0 when there is nothing to add (PostgreSQL's SUM(bigint) is numeric)."""
    where = f" FILTER (WHERE {condition})" if condition else ""
    return f"CAST(COALESCE(SUM({column}){where}, 0) AS bigint)"


def _health_sql(dialect: Dialect, now: str) -> str:
    def window(days: int) -> str:
        return f"created_at > {now} - INTERVAL '{days} days' AND created_at <= {now}"

    if dialect == "duckdb":
        seconds = "(epoch_us(completed_at) - epoch_us(created_at)) / 1e6"

        def percentile(fraction: float) -> str:
            return f"quantile_cont({seconds}, {fraction})"
    else:
        seconds = "CAST(EXTRACT(EPOCH FROM completed_at - created_at) AS double precision)"

        def percentile(fraction: float) -> str:
            return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {seconds})"

    timed = f"{_FINISHED} AND completed_at IS NOT NULL AND {window(30)}"
    per_window = []
    for days in (7, 30):
        in_window = window(days)
        per_window.append(
            f"COUNT(*) FILTER (WHERE {_FINISHED} AND {in_window}) AS finished_runs_{days}d,\n"
            f"COUNT(*) FILTER (WHERE outcome = 'failure' AND {in_window}) AS failed_runs_{days}d,\n"
            f"{_total('records_failed', in_window)} AS records_failed_{days}d,\n"
            f"{_total('records_invalid', in_window)} AS records_invalid_{days}d"
        )
    rates = [
        f"CASE WHEN st.finished_runs_{d}d > 0 THEN CAST(st.failed_runs_{d}d AS double precision)"
        f" / st.finished_runs_{d}d END AS failure_rate_{d}d"
        for d in (7, 30)
    ]
    counts = [
        f"COALESCE(st.{name}_{d}d, 0) AS {name}_{d}d"
        for d in (7, 30)
        for name in ("finished_runs", "failed_runs", "records_failed", "records_invalid")
    ]
    return f""",
ranked AS (
    SELECT source, sync_id, run_id, status, created_at,
           ROW_NUMBER() OVER (PARTITION BY source, sync_id
                              ORDER BY {NEWEST_FIRST}) AS newest
    FROM run_facts),
finished AS (
    SELECT source, sync_id, outcome,
           ROW_NUMBER() OVER (PARTITION BY source, sync_id
                              ORDER BY {NEWEST_FIRST}) AS position
    FROM run_facts WHERE {_FINISHED}),
streaks AS (
    SELECT source, sync_id,
           COALESCE(MIN(position) FILTER (WHERE outcome = 'success') - 1, COUNT(*))
               AS consecutive_failures
    FROM finished GROUP BY source, sync_id),
stats AS (
    SELECT source, sync_id, COUNT(*) AS runs,
           MAX(COALESCE(completed_at, created_at)) FILTER (WHERE outcome = 'success')
               AS last_success_at,
           {",".join(per_window)},
           {percentile(0.5)} FILTER (WHERE {timed}) AS p50_duration_s,
           {percentile(0.95)} FILTER (WHERE {timed}) AS p95_duration_s
    FROM run_facts GROUP BY source, sync_id)
SELECT s.source, s.sync_id, s.sync_label,
       COALESCE(st.runs, 0) AS runs,
       l.run_id AS last_run_id, l.status AS last_run_status, l.created_at AS last_run_at,
       st.last_success_at,
       COALESCE(k.consecutive_failures, 0) AS consecutive_failures,
       {", ".join(counts)},
       {", ".join(rates)},
       st.p50_duration_s, st.p95_duration_s
FROM sync_facts AS s
LEFT JOIN stats AS st ON st.source = s.source AND st.sync_id = s.sync_id
LEFT JOIN ranked AS l ON l.source = s.source AND l.sync_id = s.sync_id AND l.newest = 1
LEFT JOIN streaks AS k ON k.source = s.source AND k.sync_id = s.sync_id
"""


_DAILY_SQL = f"""
SELECT source, sync_id, CAST(created_at AT TIME ZONE 'UTC' AS date) AS day,
       COUNT(*) AS runs,
       COUNT(*) FILTER (WHERE {_FINISHED}) AS finished_runs,
       COUNT(*) FILTER (WHERE outcome = 'failure') AS failed_runs,
       {_total("records_processed")} AS records_processed,
       {_total("records_updated")} AS records_updated,
       {_total("records_failed")} AS records_failed,
       {_total("records_invalid")} AS records_invalid
FROM run_facts
GROUP BY source, sync_id, CAST(created_at AT TIME ZONE 'UTC' AS date)
"""

_ERRORS_SQL = """
SELECT r.source, r.sync_id, s.sync_label, r.run_id, r.status, r.created_at, r.completed_at,
       r.error_code, r.error_message, r.error_detail, r.records_failed, r.records_invalid
FROM run_facts AS r
LEFT JOIN sync_facts AS s ON s.source = r.source AND s.sync_id = r.sync_id
WHERE r.outcome = 'failure'
ORDER BY r.created_at DESC, LENGTH(r.run_id) DESC, r.run_id DESC
"""


def sources_seen_from(source: str) -> tuple[RunSource, ...]:
    """The sources whose runs the views of `source`'s dataset show: that source's own tables,
    and every other source in its default dataset (named like the source) when loaded there."""
    own = ALL_SOURCES[source]
    others = [
        replace(other, dataset=other.name) for other in ALL_SOURCES.values() if other is not own
    ]
    return (own, *others)


def refresh_health_views(pipeline: dlt.Pipeline, source: str = "census") -> str | None:
    """After a CLI load: recreate the views of every source's dataset; returns why they were
    not, if they were not.

    The loaded dataset's views are recreated, then those of the other sources' default
    datasets that already have views, so each dataset's views show every source loaded into
    the destination. Destinations without the views (filesystem, ...) and datasets without
    runs are skipped quietly. Any other failure is returned as a message: the load itself has
    succeeded.
    """
    destination = pipeline.destination
    if destination is None or destination.destination_type not in DIALECTS:
        return None
    try:
        create_health_views(pipeline, sources_seen_from(source))
        for other in ALL_SOURCES:
            sibling = other not in (source, pipeline.dataset_name)
            if sibling and health_views_exist(pipeline, dataset=other):
                create_health_views(pipeline, sources_seen_from(other), dataset=other)
    except NoRunDataError:
        return None
    except Exception as error:  # the data is loaded; a view problem must not fail the run
        return f"health views not refreshed: {type(error).__name__}: {error}".splitlines()[0]
    return None


def _dataset_of(client: Any, dataset: str | None) -> Any:
    """The client's own dataset, or another one of the same destination."""
    return nullcontext() if dataset is None else client.with_alternative_dataset_name(dataset)
