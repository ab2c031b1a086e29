"""The end-of-run summary, computed from the destination itself (before/after a load)."""

from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.common.schema.utils import has_table_seen_data
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from census_source.runs import (
    API_WARNING,
    BACKFILL_REMAINING,
    DELETED_SYNCS,
    FAILED_SYNCS,
    RECORDS_EXPIRED,
    RECORDS_RUNS,
)
from syncruns_common.contract import CONTRACT_NOTICES
from syncruns_common.partial import custom_metrics, last_run_metrics
from syncruns_common.verbatim import VERBATIM_VALUES


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
    failed_syncs: dict[str, str] = field(default_factory=dict)
    deleted_syncs: list[str] = field(default_factory=list)
    backfill_remaining: int | None = None
    records_runs: int | None = None
    records_loaded: int | None = None
    records_expired_runs: int = 0
    api_warning: str | None = None
    verbatim_values: dict[str, int] = field(default_factory=dict)
    contract_notices: dict[str, list[str]] = field(default_factory=dict)

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
        if self.records_loaded is not None:
            rows.insert(5, ("records loaded", f"{self.records_loaded:,}"))
            rows.insert(5, ("runs w/ records", f"{self.records_runs or 0:,}"))
        if self.requests is not None:
            rows.insert(len(rows) - 1, ("API requests", f"{self.requests:,}"))
        if self.deleted_syncs:
            rows.insert(1, ("syncs deleted", f"{len(self.deleted_syncs):,}"))
        if self.failed_syncs:
            rows.insert(1, ("syncs FAILED", f"{len(self.failed_syncs):,}"))
        return rows


def render(summary: RunSummary) -> str:
    """A small two-column text table."""
    width = max(len(label) for label, _ in summary.rows())
    lines = [f"syncruns {summary.command}: done", "-" * (width + 16)]
    lines += [f"{label:<{width}}  {value:>12}" for label, value in summary.rows()]
    if summary.failed_syncs:
        lines.append("Failed syncs keep their cursors; the next run catches them up:")
        lines += [f"  sync {sid}: {error}" for sid, error in sorted(summary.failed_syncs.items())]
    if summary.deleted_syncs:
        lines.append(f"Deleted while loading (skipped): {', '.join(sorted(summary.deleted_syncs))}")
    if summary.records_expired_runs:
        lines.append(
            f"Records of {summary.records_expired_runs:,} runs are past Census's retention "
            "(about 14 days) and were skipped"
        )
    if summary.verbatim_values:
        lines.append(verbatim_line(summary.verbatim_values))
    if summary.contract_notices:
        lines.append("The API broke a promise the reader relies on (worked around, exact):")
        lines += [
            f"  sync {sid}: {message}"
            for sid, messages in sorted(summary.contract_notices.items())
            for message in messages
        ]
    if summary.api_warning:
        lines.append(f"WARNING: {summary.api_warning}")
    if summary.backfill_remaining:
        lines.append(
            f"Backfill stopped with {summary.backfill_remaining} syncs to go: run the same "
            "command again to resume (syncs already loaded are not fetched again)"
        )
    return "\n".join(lines)


def verbatim_line(counts: dict[str, int]) -> str:
    """`values kept verbatim: N, in columns table.column (n), ...`."""
    columns = ", ".join(f"{name} ({count:,})" for name, count in sorted(counts.items()))
    return f"values kept verbatim: {sum(counts.values()):,}, in columns {columns}"


def verbatim_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Values kept verbatim in the last extract, by `table.column`, over every resource."""
    counts: dict[str, int] = {}
    for _, metrics in custom_metrics(pipeline):
        for name, count in metrics.get(VERBATIM_VALUES, {}).items():
            counts[name] = counts.get(name, 0) + int(count)
    return counts


def _scalar(pipeline: dlt.Pipeline, sql: str, *params: Any) -> int:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(sql, *params)
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _table(pipeline: dlt.Pipeline, name: str) -> str | None:
    """The qualified name of a table that holds data (None: not created in the destination).

    A resource that yielded nothing (an empty workspace: no syncs, no runs) has a table in the
    schema but none in the destination.
    """
    schema = pipeline.default_schema if pipeline.default_schema_name else None
    if schema is None or name not in schema.tables:
        return None
    if not has_table_seen_data(schema.tables[name]):
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
    pipeline: dlt.Pipeline,
    name: str,
    load_ids: list[str],
    condition: str = "",
    distinct: str | None = None,
) -> int:
    table = _table(pipeline, name)
    if not load_ids or table is None:
        return 0
    marks = ", ".join("%s" for _ in load_ids)
    what = f"DISTINCT {distinct}" if distinct else "*"
    sql = f"SELECT COUNT({what}) FROM {table} WHERE _dlt_load_id IN ({marks}){condition}"
    try:
        return _scalar(pipeline, sql, *load_ids)
    except DatabaseUndefinedRelation:  # in the schema, never created: nothing loaded into it
        return 0


def sync_runs_metrics(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The custom metrics of the sync_runs resource in the last extract (dlt's trace)."""
    return last_run_metrics(pipeline)


def sync_problems(pipeline: dlt.Pipeline) -> tuple[dict[str, str], list[str]]:
    """Failed syncs (id -> error) and syncs deleted while loading, in the last extract."""
    metrics = sync_runs_metrics(pipeline)
    return dict(metrics.get(FAILED_SYNCS, {})), list(metrics.get(DELETED_SYNCS, []))


def combined(summaries: list[RunSummary]) -> RunSummary:
    """One summary for a backfill loaded in several batches."""
    last = summaries[-1]
    return RunSummary(
        command=last.command,
        syncs=max(s.syncs for s in summaries),
        runs_new=sum(s.runs_new for s in summaries),
        runs_updated=sum(s.runs_updated for s in summaries),
        failures_seen=sum(s.failures_seen for s in summaries),
        runs_total=last.runs_total,
        elapsed_s=sum(s.elapsed_s for s in summaries),
        failed_syncs=last.failed_syncs,
        deleted_syncs=[sync for s in summaries for sync in s.deleted_syncs],
        backfill_remaining=last.backfill_remaining,
        records_runs=_total(s.records_runs for s in summaries),
        records_loaded=_total(s.records_loaded for s in summaries),
        records_expired_runs=sum(s.records_expired_runs for s in summaries),
        api_warning=last.api_warning,
        verbatim_values=_summed(s.verbatim_values for s in summaries),
        contract_notices={k: v for s in summaries for k, v in s.contract_notices.items()},
    )


def _summed(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for name, count in one.items():
            total[name] = total.get(name, 0) + count
    return total


def _total(values: Any) -> int | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def pending_load_ids(pipeline: dlt.Pipeline) -> list[str]:
    """The load packages a killed run left (extracted or normalized), which load next."""
    pending = [*pipeline.list_extracted_load_packages(), *pipeline.list_normalized_load_packages()]
    return sorted(set(pending))


def summarize(
    pipeline: dlt.Pipeline,
    command: str,
    info: LoadInfo,
    runs_before: int,
    elapsed_s: float,
    requests: int | None = None,
    failed_statuses: tuple[str, ...] = ("failed",),
    earlier_load_ids: list[str] | None = None,
) -> RunSummary:
    """Compare the destination with `runs_before` and count what this command loaded: the
    loads of `info`, and `earlier_load_ids` (packages a killed run left, finished first)."""
    runs_total = count_runs(pipeline)
    load_ids = [*(earlier_load_ids or []), *info.loads_ids]
    touched = _count_in_loads(pipeline, "sync_runs", load_ids)
    statuses = ", ".join(f"'{status}'" for status in failed_statuses)  # constants, not input
    failures = _count_in_loads(pipeline, "sync_runs", load_ids, f" AND status IN ({statuses})")
    syncs = _count_in_loads(pipeline, "syncs", load_ids)
    if _table(pipeline, "syncs") is None:  # a source without a sync list (Files.com)
        syncs = _count_in_loads(pipeline, "sync_runs", load_ids, distinct="sync_id")
    runs_new = max(runs_total - runs_before, 0)
    failed, deleted = sync_problems(pipeline)
    metrics = sync_runs_metrics(pipeline)
    remaining = metrics.get(BACKFILL_REMAINING)
    records_runs = metrics.get(RECORDS_RUNS)
    records_loaded = None
    if records_runs is not None:
        records_loaded = _count_in_loads(pipeline, "sync_run_records", load_ids)
    return RunSummary(
        command=command,
        syncs=syncs,
        runs_new=runs_new,
        runs_updated=max(touched - runs_new, 0),
        failures_seen=failures,
        runs_total=runs_total,
        elapsed_s=elapsed_s,
        requests=requests,
        failed_syncs=failed,
        deleted_syncs=deleted,
        backfill_remaining=remaining,
        records_runs=records_runs,
        records_loaded=records_loaded,
        records_expired_runs=int(metrics.get(RECORDS_EXPIRED, 0)),
        api_warning=metrics.get(API_WARNING),
        verbatim_values=verbatim_counts(pipeline),
        contract_notices=dict(metrics.get(CONTRACT_NOTICES, {})),
    )
