"""Health views over the loaded sync runs: `sync_health`, `sync_run_daily`, `sync_run_errors`.

Every view reads one common shape of run, built by a small per-source SELECT (a `RunSource`,
pipelines/run_sources.py) and unioned, so a new source is one more `RunSource`. Each view has
a `source` column. Definitions (also in the README, "Monitoring your syncs"):

- outcome: each source maps its statuses to `success`, `failure`, `skipped` or `open`
  (Census: completed, failed, skipped; anything else, e.g. queued or working, is open).
  A *finished* run is a success or a failure; skipped and open runs are neither.
- window (7 or 30 days): runs whose `created_at` is in (now - N x 24 hours, now].
- failure rate: failed / finished runs in the window; NULL when the window has no finished run.
- consecutive failures: finished runs after the newest success, newest first, all failures
  (order: created_at, then run id); every finished run when the sync never succeeded.
- duration: completed_at - created_at in seconds, for finished runs that have a completed_at;
  p50/p95 are linearly interpolated between the closest ranks over the 30-day window.
- day: the UTC date of created_at (a run that crosses midnight counts on the day it started).
- ids: `sync_id` and `run_id` are text, so sources with numeric and string ids share a view;
  among runs created at the same instant, the higher id is the newer.
- records_*: sums over the runs in the window or day (NULL counts as 0).

`now` is the database's clock when the view is queried, or a fixed instant given to
`create_health_views` (tests). The SQL is written once here, in PostgreSQL's syntax with a few
`syncruns_*` primitives, and transpiled to the destination's dialect by
`pipelines.sql_dialects` (sqlglot); `sql/<dialect>/` holds the result for every dialect.
"""

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

import dlt
from dlt.common.destination.exceptions import SqlClientNotAvailable
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.sql_client import WithSqlClient
from sqlglot import exp

from pipelines.health_sql import (
    canonical_view_bodies,
    newest_versions,
    source_runs,
    source_syncs,
)
from pipelines.run_sources import (
    ALL_SOURCES,
    CENSUS,
    FILES_COM,
    HIGHTOUCH,
    SOURCES,
    RunSource,
    sources_seen_from,
)
from pipelines.sql_dialects import (
    CANONICAL,
    PRIMITIVES,
    UnsupportedDialectError,
    destination_dialect,
    transpile,
)

FILESYSTEM = "dlt.destinations.filesystem"
VIEW_NAMES = ("sync_health", "sync_run_daily", "sync_run_errors")
__all__ = [  # the sources' mapping lives in pipelines.run_sources; callers import it from here
    "ALL_SOURCES",
    "CENSUS",
    "FILES_COM",
    "HIGHTOUCH",
    "SOURCES",
    "RunSource",
    "sources_seen_from",
]


class HealthViewsError(Exception):
    """Bad input for the views, report or check; the message names what to do."""


class NoRunDataError(HealthViewsError):
    """The dataset holds no loaded sync runs: nothing to build the views on."""


class ViewsUnsupportedError(HealthViewsError):
    """The destination is not one the health views are written for (`detail` says why)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message


def dialect_of(pipeline: dlt.Pipeline) -> str:
    """The sqlglot dialect of the pipeline's destination; raises if the views have no SQL for it."""
    destination = pipeline.destination
    try:
        if destination is None or destination.destination_type == FILESYSTEM:
            return destination_dialect(destination)
        try:
            capabilities = pipeline.sql_client().capabilities  # configured: not yet connected
        except SqlClientNotAvailable:
            raise UnsupportedDialectError(
                f"{destination.destination_name} has no SQL client"
            ) from None
        return destination_dialect(destination, capabilities)
    except UnsupportedDialectError as error:
        hint = ""
        if destination is not None and destination.destination_type == FILESYSTEM:
            hint = "; `syncruns report` and `syncruns check` read the loaded files directly"
        message = f"Health views need a SQL destination: {error}{hint}"
        raise ViewsUnsupportedError(message, str(error)) from None


def destination_reading_dialect(destination: Any, dataset: str) -> tuple[str, bool]:
    """As `reading_dialect`, for a destination factory before a pipeline holds it (dlt records
    a pipeline's destination in its state: an unreadable one must be refused first)."""
    if destination.destination_type == FILESYSTEM:
        return "duckdb", True
    try:
        if not issubclass(destination.client_class, WithSqlClient):
            raise UnsupportedDialectError(f"{destination.destination_name} has no SQL client")
        config = destination.spec()
        config.dataset_name = dataset
        capabilities = destination.capabilities(destination.configuration(config))
        return destination_dialect(destination, capabilities), False
    except UnsupportedDialectError as error:
        message = f"Health views need a SQL destination: {error}"
        raise ViewsUnsupportedError(message, str(error)) from None


def reading_dialect(pipeline: dlt.Pipeline) -> tuple[str, bool]:
    """The dialect in which the views' SQL can run in place on the pipeline's destination, and
    whether its tables hold every loaded version of a row (filesystem: dlt appends there, and
    its SQL client is a DuckDB over the files)."""
    destination = pipeline.destination
    if destination is not None and destination.destination_type == FILESYSTEM:
        return "duckdb", True
    return dialect_of(pipeline), False


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
        # where a view reads only its own dataset (SQLite), each dataset's views show the
        # sources loaded into it; `report` / `check` run the SQL in place and show them all
        if not PRIMITIVES[dialect].cross_dataset_views:
            here = client.dataset_name
            sources = [s for s in sources if s.dataset is None or s.dataset == here]
        statements = []
        for name, body in loaded_view_bodies(client, dialect, sources, now).items():
            qualified = client.make_qualified_table_name(name)
            statements += [f"DROP VIEW IF EXISTS {qualified}", f"CREATE VIEW {qualified} AS {body}"]
        with client.begin_transaction():
            for statement in statements:
                client.execute_sql(statement)
    return list(VIEW_NAMES)


def loaded_view_bodies(
    client: Any, dialect: str, sources: Sequence[RunSource], now: datetime | None = None
) -> dict[str, str]:
    """The SELECT of each view, in `dialect`, over the sources loaded in the client's destination.

    Reads only (which tables exist), so a read-only connection can run the views' SQL
    without creating them. Sources without loaded tables are left out; with none at all,
    NoRunDataError.
    """
    bodies = loaded_canonical_bodies(client, dialect, sources, now, ordered=True)
    return {name: transpile(body, dialect) for name, body in bodies.items()}


def loaded_canonical_bodies(
    client: Any,
    dialect: str,
    sources: Sequence[RunSource],
    now: datetime | None = None,
    ordered: bool = False,
    versions: bool = False,
) -> dict[str, str]:
    """As `loaded_view_bodies`, in the canonical dialect, to be part of a larger query
    (`ordered` False: no ORDER BY, which a subquery may not have on SQL Server).

    `versions`: the tables hold each loaded version of a row (appended, not merged); the
    newest version of each id is read.
    """
    runs_parts, syncs_parts = [], []
    for source in sources:
        runs = _qualified(client, source, source.runs_table, dialect)
        syncs = _qualified(client, source, source.syncs_table, dialect)
        has_runs, has_syncs = _exists(client, runs[0]), _exists(client, syncs[0])
        if not has_runs and not has_syncs:
            continue
        runs_from, syncs_from = runs[1], syncs[1]
        if versions:
            runs_from, syncs_from = newest_versions(runs_from), newest_versions(syncs_from)
        runs_parts.append(source_runs(source, runs_from if has_runs else None))
        syncs_parts.append(source_syncs(source, syncs_from if has_syncs else None))
    if not runs_parts:
        raise no_run_data(client)
    return canonical_view_bodies(runs_parts, syncs_parts, now, ordered)


def canonical_name(client: Any, table: str, dialect: str) -> str:
    """A table of the client's dataset, qualified and quoted as the canonical dialect reads it."""
    return str(
        exp.to_table(client.make_qualified_table_name(table), dialect=dialect).sql(CANONICAL)
    )


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
    with pipeline.sql_client() as client, _dataset_of(client, dataset):
        return all(_exists(client, client.make_qualified_table_name(name)) for name in VIEW_NAMES)


def ensure_health_views(pipeline: dlt.Pipeline) -> None:
    """Create the views if they are missing (data loaded from Python, or before they existed)."""
    dialect_of(pipeline)
    if not health_views_exist(pipeline):
        create_health_views(pipeline)


def view_bodies(
    dialect: str,
    runs_parts: Sequence[str],
    syncs_parts: Sequence[str],
    now: datetime | None = None,
) -> dict[str, str]:
    """The SELECT of each view in `dialect`, from the per-source run and sync SELECTs
    (in the canonical dialect)."""
    return {
        name: transpile(body, dialect)
        for name, body in canonical_view_bodies(runs_parts, syncs_parts, now).items()
    }


def _exists(client: Any, qualified: str) -> bool:
    """Whether a table or view exists: asked the same way on every engine."""
    try:
        client.execute_sql(f"SELECT 1 FROM {qualified} WHERE 1 = 0")
    except DatabaseUndefinedRelation:
        return False
    return True


def _qualified(client: Any, source: RunSource, table: str, dialect: str) -> tuple[str, str]:
    """The table's qualified name as the destination spells it, and in the canonical dialect."""
    if source.dataset is None:
        name = str(client.make_qualified_table_name(table))
    else:
        with client.with_alternative_dataset_name(source.dataset):
            name = str(client.make_qualified_table_name(table))
    return name, exp.to_table(name, dialect=dialect).sql(dialect=CANONICAL)


def refresh_health_views(pipeline: dlt.Pipeline, source: str = "census") -> str | None:
    """After a CLI load: recreate the views of every source's dataset; returns why they were
    not, if they were not.

    The loaded dataset's views are recreated, then those of the other sources' default
    datasets that already have views, so each dataset's views show every source loaded into
    the destination. Destinations without the views (filesystem, ...) and datasets without
    runs are skipped quietly. Any other failure is returned as a message: the load itself has
    succeeded.
    """
    try:
        dialect_of(pipeline)
    except ViewsUnsupportedError:
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
