"""The health views' SELECTs in the canonical dialect (PostgreSQL's syntax, `syncruns_*`
primitives unrendered): what `pipelines.sql_dialects.transpile` turns into each engine's SQL."""

from collections.abc import Sequence
from datetime import UTC, datetime

from pipelines.run_sources import RunSource

# the common run shape every RunSource maps to: (column, SQL type; "instant": a timestamp)
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sync_id", "text"),
    ("run_id", "text"),
    ("status", "text"),
    ("outcome", "text"),
    ("created_at", "instant"),
    ("completed_at", "instant"),
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
NEWEST_FIRST = "created_at DESC NULLS LAST, LENGTH(run_id) DESC NULLS LAST, run_id DESC NULLS LAST"


def canonical_view_bodies(
    runs_parts: Sequence[str],
    syncs_parts: Sequence[str],
    now: datetime | None = None,
    ordered: bool = True,
) -> dict[str, str]:
    """The SELECT of each view in the canonical dialect, primitives unrendered."""
    common = (
        f"WITH run_facts AS ({' UNION ALL '.join(runs_parts)}),\n"
        f"sync_facts AS (SELECT source, sync_id, MAX(sync_label) AS sync_label FROM "
        f"({' UNION ALL '.join(syncs_parts)} UNION ALL "
        f"SELECT DISTINCT source, sync_id, CAST(NULL AS TEXT) FROM run_facts) AS s "
        f"GROUP BY source, sync_id)"
    )
    return {
        "sync_health": common + _health_sql(_now_sql(now)),
        "sync_run_daily": common + _DAILY_SQL,
        "sync_run_errors": common + _ERRORS_SQL + (_ERRORS_ORDER if ordered else ""),
    }


def _now_sql(now: datetime | None) -> str:
    if now is None:
        return "syncruns_now()"
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return f"syncruns_instant('{now.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}')"


def newest_versions(table: str) -> str:
    """The newest loaded version of each row of `table` (by id), as a FROM item. Load ids are
    epoch seconds as text, compared as numbers ('…72.65' is later than '…72.6542304')."""
    ranked = (
        "SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.id ORDER BY "
        f"CAST(t._dlt_load_id AS DOUBLE PRECISION) DESC) AS syncruns_version FROM {table} AS t"
    )
    return f"(SELECT * FROM ({ranked}) AS versions WHERE syncruns_version = 1) AS newest"


def _cast(name: str, kind: str) -> str:
    return f"syncruns_instant_of({name})" if kind == "instant" else f"CAST({name} AS {kind})"


def _shaped(source: RunSource, columns: tuple[tuple[str, str], ...], select: str) -> str:
    """The source's SELECT with a `source` column and the common column order and types."""
    casts = ", ".join(f"{_cast(name, kind)} AS {name}" for name, kind in columns)
    return f"SELECT CAST('{source.name}' AS TEXT) AS source, {casts} FROM ({select}) AS a"


def _empty(columns: tuple[tuple[str, str], ...]) -> str:
    """A typed SELECT with no rows: a source whose table was never created (no data yet)."""
    casts = ", ".join(f"{_cast('NULL', kind)} AS {name}" for name, kind in columns)
    return f"SELECT {casts} FROM (SELECT 1 AS one) AS nothing WHERE 1 = 0"


def source_runs(source: RunSource, runs: str | None) -> str:
    """The source's runs in the common shape, from `runs` (a FROM item; None: no table yet)."""
    if runs is None:
        return _shaped(source, RUN_COLUMNS, _empty(RUN_COLUMNS))
    return _shaped(source, RUN_COLUMNS, source.runs_select.format(runs=runs))


def source_syncs(source: RunSource, syncs: str | None) -> str:
    """The source's syncs in the common shape, from `syncs` (a FROM item; None: no table yet)."""
    if syncs is None:
        return _shaped(source, SYNC_COLUMNS, _empty(SYNC_COLUMNS))
    return _shaped(source, SYNC_COLUMNS, source.syncs_select.format(syncs=syncs))


_FINISHED = "outcome IN ('success', 'failure')"


def _count(condition: str) -> str:
    """How many rows meet `condition` (no FILTER clause: several engines lack it)."""
    return f"CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)"


def _total(column: str, condition: str | None = None) -> str:
    """SUM as bigint, 0 when there is nothing to add (PostgreSQL's SUM(bigint) is numeric)."""
    value = f"CASE WHEN {condition} THEN {column} END" if condition else column
    return f"CAST(COALESCE(SUM({value}), 0) AS BIGINT)"


def _percentile_parts(fraction: float) -> str:
    """Linear interpolation between the closest ranks (percentile_cont), without an aggregate
    percentile (absent on SQLite, MySQL, BigQuery, Athena): the two neighbouring durations and
    the distance between them, from each duration's rank. `position` is 0-based."""
    position = f"{fraction} * last_rank"
    name = f"p{round(fraction * 100)}"
    low = f"duration_rank <= {position} AND {position} < duration_rank + 1"
    high = f"duration_rank - 1 < {position} AND {position} <= duration_rank"
    return (
        f"MAX(CASE WHEN {low} THEN duration_s END) AS {name}_low,\n"
        f"MAX(CASE WHEN {low} THEN {position} - duration_rank END) AS {name}_fraction,\n"
        f"MAX(CASE WHEN {high} THEN duration_s END) AS {name}_high"
    )


def _interpolated(name: str) -> str:
    return (
        f"CAST(pc.{name}_low + pc.{name}_fraction * (pc.{name}_high - pc.{name}_low)"
        f" AS DOUBLE PRECISION) AS {name}_duration_s"
    )


def _health_sql(now: str) -> str:
    def window(days: int) -> str:
        return f"created_at > syncruns_hours_before({now}, {days * 24}) AND created_at <= {now}"

    per_window = []
    for days in (7, 30):
        in_window = window(days)
        per_window.append(
            f"{_count(f'{_FINISHED} AND {in_window}')} AS finished_runs_{days}d,\n"
            f"{_count(f'outcome = {chr(39)}failure{chr(39)} AND {in_window}')}"
            f" AS failed_runs_{days}d,\n"
            f"{_total('records_failed', in_window)} AS records_failed_{days}d,\n"
            f"{_total('records_invalid', in_window)} AS records_invalid_{days}d"
        )
    rates = [
        f"CASE WHEN st.finished_runs_{d}d > 0 THEN CAST(st.failed_runs_{d}d AS DOUBLE PRECISION)"
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
                              ORDER BY {NEWEST_FIRST}) AS newest_rank
    FROM run_facts),
finished AS (
    SELECT source, sync_id, outcome,
           ROW_NUMBER() OVER (PARTITION BY source, sync_id
                              ORDER BY {NEWEST_FIRST}) AS finished_rank
    FROM run_facts WHERE {_FINISHED}),
streaks AS (
    SELECT source, sync_id,
           COALESCE(MIN(CASE WHEN outcome = 'success' THEN finished_rank END) - 1, COUNT(*))
               AS consecutive_failures
    FROM finished GROUP BY source, sync_id),
timed AS (
    SELECT source, sync_id, syncruns_seconds_between(created_at, completed_at) AS duration_s
    FROM run_facts
    WHERE {_FINISHED} AND completed_at IS NOT NULL AND {window(30)}),
durations AS (
    SELECT source, sync_id, duration_s,
           ROW_NUMBER() OVER (PARTITION BY source, sync_id ORDER BY duration_s NULLS FIRST) - 1
               AS duration_rank,
           COUNT(*) OVER (PARTITION BY source, sync_id) - 1 AS last_rank
    FROM timed),
percentiles AS (
    SELECT source, sync_id,
           {_percentile_parts(0.5)},
           {_percentile_parts(0.95)}
    FROM durations GROUP BY source, sync_id),
stats AS (
    SELECT source, sync_id, COUNT(*) AS runs,
           MAX(CASE WHEN outcome = 'success' THEN COALESCE(completed_at, created_at) END)
               AS last_success_at,
           {",".join(per_window)}
    FROM run_facts GROUP BY source, sync_id)
SELECT s.source, s.sync_id, s.sync_label,
       COALESCE(st.runs, 0) AS runs,
       l.run_id AS last_run_id, l.status AS last_run_status, l.created_at AS last_run_at,
       st.last_success_at,
       COALESCE(k.consecutive_failures, 0) AS consecutive_failures,
       {", ".join(counts)},
       {", ".join(rates)},
       {_interpolated("p50")}, {_interpolated("p95")}
FROM sync_facts AS s
LEFT JOIN stats AS st ON st.source = s.source AND st.sync_id = s.sync_id
LEFT JOIN ranked AS l ON l.source = s.source AND l.sync_id = s.sync_id AND l.newest_rank = 1
LEFT JOIN streaks AS k ON k.source = s.source AND k.sync_id = s.sync_id
LEFT JOIN percentiles AS pc ON pc.source = s.source AND pc.sync_id = s.sync_id
"""


_DAILY_SQL = f"""
SELECT source, sync_id, run_day AS day,
       COUNT(*) AS runs,
       {_count(_FINISHED)} AS finished_runs,
       {_count("outcome = 'failure'")} AS failed_runs,
       {_total("records_processed")} AS records_processed,
       {_total("records_updated")} AS records_updated,
       {_total("records_failed")} AS records_failed,
       {_total("records_invalid")} AS records_invalid
FROM (SELECT r.*, syncruns_utc_day(created_at) AS run_day FROM run_facts AS r) AS d
GROUP BY source, sync_id, run_day
"""

_ERRORS_SQL = """
SELECT r.source, r.sync_id, s.sync_label, r.run_id, r.status, r.created_at, r.completed_at,
       r.error_code, r.error_message, r.error_detail, r.records_failed, r.records_invalid
FROM run_facts AS r
LEFT JOIN sync_facts AS s ON s.source = r.source AND s.sync_id = r.sync_id
WHERE r.outcome = 'failure'
"""
_ERRORS_ORDER = (
    "ORDER BY r.created_at DESC NULLS LAST, LENGTH(r.run_id) DESC NULLS LAST,"
    " r.run_id DESC NULLS LAST\n"
)
