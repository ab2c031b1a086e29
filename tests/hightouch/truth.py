"""Expected table contents from the simulator's ground truth, and readers of the DuckDB tables."""

import math
from typing import Any

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention

from census_source.timestamps import parse_timestamp
from hightouch_simulator import HightouchSimulator, RequestLogEntry, World
from tests.truth import query, table

__all__ = ["query", "table"]  # the generic DuckDB readers, shared with the Census tests

TIME_FIELDS = {"createdAt": "created_at", "startedAt": "started_at", "finishedAt": "finished_at"}
PLAIN_FIELDS = {
    "status": "status",
    "error": "error",
    "completionRatio": "completion_ratio",
    "querySize": "query_size",
}
GROUPS = {
    "plannedRows": "planned_rows",
    "successfulRows": "successful_rows",
    "failedRows": "failed_rows",
}
COUNTS = {
    "addedCount": "added_count",
    "changedCount": "changed_count",
    "removedCount": "removed_count",
}

TEXT_FIELDS = frozenset({"status", "error"})
_NAMING = NamingConvention()


def column_name(field: str) -> str:
    """The column of an API field (`plannedRows.addedCount` -> `planned_rows__added_count`)."""
    return "__".join(_NAMING.normalize_identifier(part) for part in field.split("."))


RUN_COLUMNS = (
    "id",
    "sync_id",
    *TIME_FIELDS.values(),
    *PLAIN_FIELDS.values(),
    *(f"{group}__{count}" for group in GROUPS.values() for count in COUNTS.values()),
)


def expected_row(run: dict[str, Any]) -> dict[str, Any]:
    """The `sync_runs` row a ground-truth run (with its `syncId`) must become."""
    row: dict[str, Any] = {"id": run["id"], "sync_id": int(run["syncId"])}
    for field, column in TIME_FIELDS.items():
        row[column] = None if run.get(field) is None else parse_timestamp(run[field])
    for field, column in PLAIN_FIELDS.items():
        row[column] = run.get(field)
    for group, prefix in GROUPS.items():
        for count, suffix in COUNTS.items():
            row[f"{prefix}__{suffix}"] = (run.get(group) or {}).get(count)
    return row


def loaded_runs(pipeline: dlt.Pipeline) -> dict[int, dict[str, Any]]:
    """Every loaded run by id, with the documented columns."""
    rows = query(pipeline, f"SELECT {', '.join(RUN_COLUMNS)} FROM {table(pipeline, 'sync_runs')}")
    result = {row[0]: dict(zip(RUN_COLUMNS, row, strict=True)) for row in rows}
    assert len(result) == len(rows), "duplicate run ids in sync_runs"
    return result


def assert_matches_truth(pipeline: dlt.Pipeline, truth_runs: list[dict[str, Any]]) -> None:
    """`sync_runs` equals the ground truth exactly: the same ids, every column equal."""
    expected = {run["id"]: expected_row(run) for run in truth_runs}
    loaded = loaded_runs(pipeline)
    assert sorted(loaded) == sorted(expected), "run ids differ from the ground truth"
    wrong = [run_id for run_id in expected if loaded[run_id] != expected[run_id]]
    assert not wrong, f"{len(wrong)} runs differ, e.g. {loaded[wrong[0]]} != {expected[wrong[0]]}"


def rows_of_load(pipeline: dlt.Pipeline, load_id: str) -> set[int]:
    """Ids of the runs written by one load."""
    sql = f"SELECT id FROM {table(pipeline, 'sync_runs')} WHERE _dlt_load_id = '{load_id}'"
    return {row[0] for row in query(pipeline, sql)}


def cursors(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The per-sync cursors in the pipeline's state ({} before any incremental load)."""
    resources = pipeline.state.get("sources", {}).get("hightouch", {}).get("resources", {})
    return dict(resources.get("sync_runs", {}).get("syncs", {}))


def run_requests(sim: HightouchSimulator, sync_id: str | None = None) -> list[RequestLogEntry]:
    """Logged requests to run listings (of one sync, or of every sync)."""
    suffix = "/runs" if sync_id is None else f"/syncs/{sync_id}/runs"
    return [entry for entry in sim.requests if entry.path.endswith(suffix)]


def full_load_requests(world: World) -> int:
    """The floor of a full load: the sync list, then one request per 100 runs (at least one)."""
    syncs = world.syncs
    runs = sum(max(1, math.ceil(len(world.runs_of(s["id"]) or []) / 100)) for s in syncs)
    return math.ceil(max(1, len(syncs)) / 100) + runs


def run_metrics(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The custom metrics of `sync_runs` in the last extract (dlt's trace)."""
    extract = pipeline.last_trace.last_extract_info if pipeline.last_trace else None
    assert extract is not None
    merged: dict[str, Any] = {}
    for step_metrics in extract.metrics.values():
        for metrics in step_metrics:
            custom = metrics["resource_metrics"].get("sync_runs")
            if custom is not None:
                merged.update(custom.custom_metrics)
    return merged


def listing_requests(world: World, page: int) -> int:
    """Requests of a full load served `page` items per request, each listing ending on
    `hasMore: false` (at least one request per listing)."""
    syncs = world.syncs
    runs = sum(max(1, math.ceil(len(world.runs_of(s["id"]) or []) / page)) for s in syncs)
    return max(1, math.ceil(len(syncs) / page)) + runs


def empty_page_requests(world: World, page: int) -> int:
    """Requests of a full load without `hasMore`: each listing goes on until an empty page."""
    syncs = world.syncs
    runs = sum(math.ceil(len(world.runs_of(s["id"]) or []) / page) + 1 for s in syncs)
    return math.ceil(len(syncs) / page) + 1 + runs
