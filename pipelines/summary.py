"""The end-of-run summary, computed from the destination itself (before/after a load)."""

from dataclasses import dataclass
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo


@dataclass(frozen=True)
class RunSummary:
    """What one command did: syncs seen, runs new and updated, failed runs seen, time taken."""

    command: str
    syncs: int
    runs_new: int
    runs_updated: int
    failures_seen: int
    runs_total: int
    elapsed_s: float
    requests: int | None = None

    def rows(self) -> list[tuple[str, str]]:
        """Label/value pairs in display order."""
        rows = [
            ("syncs", f"{self.syncs:,}"),
            ("runs new", f"{self.runs_new:,}"),
            ("runs updated", f"{self.runs_updated:,}"),
            ("failed runs seen", f"{self.failures_seen:,}"),
            ("runs in table", f"{self.runs_total:,}"),
            ("elapsed", f"{self.elapsed_s:.1f} s"),
        ]
        if self.requests is not None:
            rows.insert(5, ("API requests", f"{self.requests:,}"))
        return rows


def render(summary: RunSummary) -> str:
    """A small two-column text table."""
    width = max(len(label) for label, _ in summary.rows())
    lines = [f"syncruns {summary.command}: done", "-" * (width + 16)]
    lines += [f"{label:<{width}}  {value:>12}" for label, value in summary.rows()]
    return "\n".join(lines)


def _scalar(pipeline: dlt.Pipeline, sql: str, *params: Any) -> int:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(sql, *params)
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _table(pipeline: dlt.Pipeline, name: str) -> str | None:
    schema = pipeline.default_schema if pipeline.default_schema_name else None
    if schema is None or name not in schema.tables:
        return None
    with pipeline.sql_client() as client:
        return str(client.make_qualified_table_name(name))


def count_runs(pipeline: dlt.Pipeline) -> int:
    """Rows in sync_runs now (0 before the first load)."""
    try:
        table = _table(pipeline, "sync_runs")
        return _scalar(pipeline, f"SELECT COUNT(*) FROM {table}") if table else 0
    except Exception:  # the dataset does not exist yet
        return 0


def _count_in_loads(
    pipeline: dlt.Pipeline, name: str, load_ids: list[str], condition: str = ""
) -> int:
    table = _table(pipeline, name)
    if not load_ids or table is None:
        return 0
    marks = ", ".join("%s" for _ in load_ids)
    sql = f"SELECT COUNT(*) FROM {table} WHERE _dlt_load_id IN ({marks}){condition}"
    return _scalar(pipeline, sql, *load_ids)


def summarize(
    pipeline: dlt.Pipeline,
    command: str,
    info: LoadInfo,
    runs_before: int,
    elapsed_s: float,
    requests: int | None = None,
) -> RunSummary:
    """Compare the destination with `runs_before` and count what this load touched."""
    runs_total = count_runs(pipeline)
    load_ids = list(info.loads_ids)
    touched = _count_in_loads(pipeline, "sync_runs", load_ids)
    failures = _count_in_loads(pipeline, "sync_runs", load_ids, " AND status = 'failed'")
    syncs = _count_in_loads(pipeline, "syncs", load_ids)
    runs_new = max(runs_total - runs_before, 0)
    return RunSummary(
        command=command,
        syncs=syncs,
        runs_new=runs_new,
        runs_updated=max(touched - runs_new, 0),
        failures_seen=failures,
        runs_total=runs_total,
        elapsed_s=elapsed_s,
        requests=requests,
    )
