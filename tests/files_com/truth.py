"""Expected table contents from the simulator's ground truth, and readers of the DuckDB tables."""

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from census_source.timestamps import parse_timestamp
from files_com_simulator import FilesComSimulator, RequestLogEntry
from files_com_source.tables import (
    LIVE_TRANSFER_COLUMNS,
    RUN_COUNT_FIELDS,
    RUN_ID_FIELDS,
    RUN_TEXT_FIELDS,
    RUN_TIME_FIELDS,
)

RUN_FIELDS = (
    "id",
    "created_at",
    *RUN_ID_FIELDS,
    *RUN_TIME_FIELDS,
    *RUN_COUNT_FIELDS,
    *RUN_TEXT_FIELDS,
    "runtime",
    "dry_run",
)
TRANSFER_FIELDS = tuple(LIVE_TRANSFER_COLUMNS)
TIME_FIELDS = {"created_at", *RUN_TIME_FIELDS}
TEXT_FIELDS = frozenset(RUN_TEXT_FIELDS)
STATE_PATH = ("sources", "files_com", "resources", "sync_runs", "cursor")


def _value(field: str, value: Any) -> Any:
    if field in TIME_FIELDS and value is not None:
        return parse_timestamp(value)
    return value


def _normalize(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query; `{name}` placeholders are replaced by qualified table names."""
    with pipeline.sql_client() as client:
        names = {
            name: client.make_qualified_table_name(name)
            for name in ("sync_runs", "sync_runs__event_errors", "sync_runs__live_transfers")
        }
        rows = client.execute_sql(sql.format(**names)) or []
        return [tuple(_normalize(v) for v in row) for row in rows]


def expected_runs(runs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Documented fields of each run as the table must hold them, by id."""
    return {run["id"]: {f: _value(f, run.get(f)) for f in RUN_FIELDS} for run in runs}


def loaded_runs(pipeline: dlt.Pipeline) -> dict[int, dict[str, Any]]:
    """Documented fields of every loaded run, by id; duplicate ids fail."""
    rows = query(pipeline, f"SELECT {', '.join(RUN_FIELDS)} FROM {{sync_runs}}")
    loaded = {row[0]: dict(zip(RUN_FIELDS, row, strict=True)) for row in rows}
    assert len(loaded) == len(rows), "duplicate run ids in sync_runs"
    return loaded


def expected_errors(runs: list[dict[str, Any]]) -> Counter[tuple[int, int, str]]:
    """(run id, position, message) of every event error."""
    return Counter(
        (run["id"], index, message)
        for run in runs
        for index, message in enumerate(run.get("event_errors") or [])
    )


def loaded_errors(pipeline: dlt.Pipeline) -> Counter[tuple[int, int, str]]:
    """(run id, position, message) rows of sync_runs__event_errors, joined to their run."""
    if not query(
        pipeline,
        "SELECT 1 FROM information_schema.tables WHERE table_name = 'sync_runs__event_errors'",
    ):
        return Counter()
    rows = query(
        pipeline,
        "SELECT r.id, e._dlt_list_idx, e.value FROM {sync_runs__event_errors} e "
        "JOIN {sync_runs} r ON e._dlt_parent_id = r._dlt_id",
    )
    orphans = query(
        pipeline,
        "SELECT count(*) FROM {sync_runs__event_errors} e "
        "WHERE e._dlt_parent_id NOT IN (SELECT _dlt_id FROM {sync_runs})",
    )
    assert orphans[0][0] == 0, "event_errors rows without their run"
    return Counter((int(a), int(b), str(c)) for a, b, c in rows)


def _has_table(pipeline: dlt.Pipeline, name: str) -> bool:
    sql = f"SELECT 1 FROM information_schema.tables WHERE table_name = '{name}'"
    return bool(query(pipeline, sql))


def expected_transfers(runs: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """(run id, position, path, status, ...) of every live transfer."""
    return Counter(
        (run["id"], index, *(entry.get(f) for f in TRANSFER_FIELDS))
        for run in runs
        for index, entry in enumerate(run.get("live_transfers") or [])
    )


def loaded_transfers(pipeline: dlt.Pipeline) -> Counter[tuple[Any, ...]]:
    """The rows of sync_runs__live_transfers as `expected_transfers` has them; orphans fail."""
    if not _has_table(pipeline, "sync_runs__live_transfers"):
        return Counter()
    columns = ", ".join(f"t.{name}" for name in TRANSFER_FIELDS)
    rows = query(
        pipeline,
        f"SELECT r.id, t._dlt_list_idx, {columns} FROM {{sync_runs__live_transfers}} t "
        "JOIN {sync_runs} r ON t._dlt_parent_id = r._dlt_id",
    )
    total = query(pipeline, "SELECT count(*) FROM {sync_runs__live_transfers}")
    assert total[0][0] == len(rows), "live_transfers rows without their run"
    return Counter(rows)


def assert_matches_truth(pipeline: dlt.Pipeline, truth: list[dict[str, Any]]) -> None:
    """sync_runs and its child tables hold exactly `truth`."""
    expected, loaded = expected_runs(truth), loaded_runs(pipeline)
    assert sorted(loaded) == sorted(expected), "run ids differ"
    wrong = [run_id for run_id in expected if loaded[run_id] != expected[run_id]]
    assert not wrong, f"{len(wrong)} runs differ, e.g. {loaded[wrong[0]]} != {expected[wrong[0]]}"
    assert loaded_errors(pipeline) == expected_errors(truth)
    assert loaded_transfers(pipeline) == expected_transfers(truth)


def rows_written(pipeline: dlt.Pipeline, info: LoadInfo) -> set[int]:
    """Ids of the runs a load (the `pipeline.run` that returned `info`) wrote."""
    ids = ", ".join(f"'{load_id}'" for load_id in info.loads_ids) or "''"
    rows = query(pipeline, f"SELECT id FROM {{sync_runs}} WHERE _dlt_load_id IN ({ids})")
    return {row[0] for row in rows}


def cursor_state(pipeline: dlt.Pipeline) -> dict[str, Any] | None:
    """The stored incremental cursor of sync_runs, or None before the first incremental load."""
    node: Any = pipeline.state
    for key in STATE_PATH:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return dict(node)


def list_requests(sim: FilesComSimulator) -> list[RequestLogEntry]:
    """Logged list requests (GET /sync_runs)."""
    return [r for r in sim.requests if r.path.endswith("/sync_runs")]


def fetch_requests(sim: FilesComSimulator) -> list[RequestLogEntry]:
    """Logged fetches of one run (GET /sync_runs/{id})."""
    return [r for r in sim.requests if "/sync_runs/" in r.path]
