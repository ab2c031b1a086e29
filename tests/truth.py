"""Expected table contents derived from the simulator's ground truth, and readers of DuckDB."""

from datetime import UTC, datetime
from typing import Any

import dlt

from census_source.tables import RUN_COUNT_FIELDS, RUN_FLAG_FIELDS, RUN_TEXT_FIELDS, RUN_TIME_FIELDS
from census_source.timestamps import parse_timestamp

RUN_FIELDS = (
    "id",
    "sync_id",
    "created_at",
    *RUN_TIME_FIELDS,
    *RUN_COUNT_FIELDS,
    *RUN_TEXT_FIELDS,
    *RUN_FLAG_FIELDS,
)
TIME_FIELDS = {"created_at", *RUN_TIME_FIELDS}
REASON_KEYS = ("ui_tag", "ui_detail")


def _value(field: str, value: Any) -> Any:
    if field in TIME_FIELDS and value is not None:
        return parse_timestamp(value)
    return value


def expected_runs(runs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Documented fields of each run as the table should hold them, keyed by id."""
    return {run["id"]: {f: _value(f, run.get(f)) for f in RUN_FIELDS} for run in runs}


def expected_reasons(runs: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """(sync_run_id, ui_tag, ui_detail) of every run that has a trigger reason."""
    return {
        (run["id"], *(run["sync_trigger_reason"].get(key) for key in REASON_KEYS))
        for run in runs
        if isinstance(run.get("sync_trigger_reason"), dict)
    }


def _normalize(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the pipeline's dataset; `{t}` style names are qualified by the caller."""
    with pipeline.sql_client() as client:
        rows = client.execute_sql(sql) or []
        return [tuple(_normalize(v) for v in row) for row in rows]


def table(pipeline: dlt.Pipeline, name: str) -> str:
    """The qualified name of a table in the pipeline's dataset."""
    with pipeline.sql_client() as client:
        return str(client.make_qualified_table_name(name))


def loaded_runs(pipeline: dlt.Pipeline) -> dict[int, dict[str, Any]]:
    """Documented fields of every loaded run, keyed by id."""
    rows = query(pipeline, f"SELECT {', '.join(RUN_FIELDS)} FROM {table(pipeline, 'sync_runs')}")
    result = {row[0]: dict(zip(RUN_FIELDS, row, strict=True)) for row in rows}
    assert len(result) == len(rows), "duplicate run ids in sync_runs"
    return result


def loaded_reasons(pipeline: dlt.Pipeline) -> list[tuple[Any, ...]]:
    """(sync_run_id, ui_tag, ui_detail) rows of the child table, duplicates kept."""
    child = table(pipeline, "sync_runs__sync_trigger_reason")
    return query(pipeline, f"SELECT sync_run_id, {', '.join(REASON_KEYS)} FROM {child}")


def assert_matches_truth(pipeline: dlt.Pipeline, truth_runs: list[dict[str, Any]]) -> None:
    """sync_runs and its child table equal the ground truth exactly."""
    expected = expected_runs(truth_runs)
    loaded = loaded_runs(pipeline)
    assert sorted(loaded) == sorted(expected), "run ids differ from ground truth"
    mismatched = [rid for rid in expected if loaded[rid] != expected[rid]]
    assert not mismatched, (
        f"{len(mismatched)} runs differ, e.g. {mismatched[0]}: "
        f"{loaded[mismatched[0]]} != {expected[mismatched[0]]}"
    )
    reasons = loaded_reasons(pipeline)
    assert len(reasons) == len(set(reasons)), "duplicated trigger-reason child rows"
    assert set(reasons) == expected_reasons(truth_runs)
