"""Census: values nobody designed land typed or verbatim, and touch no other value (issue 12).

One load of World(seed=1) with the odd values of the issue's repro, each on its own run; every
test names one case. The other runs must equal the ground truth exactly.
"""

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from pipelines.summary import verbatim_counts, verbatim_line
from tests.conftest import TOKEN, source_for
from tests.truth import expected_runs, loaded_runs, query, table

SYNC = 1005  # 2,500 runs: the odd ones share their Arrow batch with thousands of good ones
ODD: dict[str, dict[str, Any]] = {
    "empty_completed_at": {"status": "completed", "completed_at": ""},
    "bad_updated_at": {"status": "completed", "updated_at": "yesterday"},
    "naive_timestamp": {"status": "completed", "completed_at": "2024-01-03T16:46:04.807"},
    "date_only": {"status": "completed", "completed_at": "2024-01-04"},
    "year_zero": {"status": "completed", "completed_at": "0000-01-01T00:00:00Z"},
    "offset_timestamp": {"status": "completed", "completed_at": "2024-01-03T22:16:04.807+05:30"},
    "count_as_string": {"status": "failed", "records_failed": "12"},
    "count_as_float": {"status": "failed", "records_failed": 12.0},
    "bool_in_count": {"status": "failed", "records_failed": True},
    "fraction_in_count": {"status": "failed", "records_failed": 12.5},
    "huge_count": {"status": "completed", "records_processed": 2**70},
    "flags_as_strings": {"status": "completed", "canceled": "true", "full_sync": "false"},
    "flag_as_yes": {"status": "completed", "canceled": "yes"},
    "object_in_error_detail": {"status": "failed", "error_detail": {"code": "E42", "row": 3}},
    "reason_as_string": {"status": "completed", "sync_trigger_reason": "api"},
    "reason_empty_object": {"status": "completed", "sync_trigger_reason": {}},
    "reason_nested": {
        "status": "completed",
        "sync_trigger_reason": {"ui_tag": "API", "by": {"user": "ana", "id": 7}},
    },
}


class Loaded:
    def __init__(self, world: World, pipeline: dlt.Pipeline, ids: dict[str, int]) -> None:
        self.world, self.pipeline, self.ids = world, pipeline, ids

    def row(self, case: str, *columns: str) -> tuple[Any, ...]:
        names = ", ".join(columns)
        rows = query(
            self.pipeline,
            f"SELECT {names} FROM {table(self.pipeline, 'sync_runs')} WHERE id = {self.ids[case]}",
        )
        assert len(rows) == 1
        return rows[0]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    world = World(seed=1)
    ids = {case: world.add_run(SYNC, **fields)["id"] for case, fields in ODD.items()}
    path: Path = tmp_path_factory.mktemp("lossless")
    pipeline = dlt.pipeline(
        pipeline_name="lossless",
        pipelines_dir=str(path / "pipelines"),
        destination=dlt.destinations.duckdb(str(path / "lossless.duckdb")),
        dataset_name="census",
    )
    with CensusSimulator(world, token=TOKEN) as simulator:
        pipeline.run(source_for(simulator))
        yield Loaded(world, pipeline, ids)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_every_other_run_is_exactly_as_without_the_odd_values(loaded: Loaded) -> None:
    odd_ids = set(loaded.ids.values())
    truth = [run for run in loaded.world.ground_truth_runs() if run["id"] not in odd_ids]
    expected = expected_runs(truth)
    runs = loaded_runs(loaded.pipeline)
    assert {rid: runs[rid] for rid in expected} == expected
    total = query(
        loaded.pipeline, f"SELECT COUNT(completed_at) FROM {table(loaded.pipeline, 'sync_runs')}"
    )
    with_completed = sum(1 for run in truth if run.get("completed_at"))
    assert total[0][0] >= with_completed  # the repro: 0 of 2,839


def test_empty_completed_at_is_kept_as_text(loaded: Loaded) -> None:
    assert loaded.row("empty_completed_at", "completed_at", "completed_at__v_text") == (None, "")


def test_unreadable_updated_at_is_kept_as_text(loaded: Loaded) -> None:
    row = loaded.row("bad_updated_at", "updated_at", "updated_at__v_text", "completed_at")
    assert row[:2] == (None, "yesterday") and row[2] is not None


def test_timestamp_without_zone_is_utc(loaded: Loaded) -> None:
    row = loaded.row("naive_timestamp", "completed_at", "completed_at__v_text")
    assert row == (at("2024-01-03T16:46:04.807+00:00"), None)


def test_date_is_midnight_utc(loaded: Loaded) -> None:
    assert loaded.row("date_only", "completed_at") == (at("2024-01-04T00:00:00+00:00"),)


def test_year_zero_that_arrow_reads_is_kept_as_text(loaded: Loaded) -> None:
    row = loaded.row("year_zero", "completed_at", "completed_at__v_text")
    assert row == (None, "0000-01-01T00:00:00Z")


def test_offset_is_that_instant(loaded: Loaded) -> None:
    assert loaded.row("offset_timestamp", "completed_at") == (at("2024-01-03T16:46:04.807Z"),)


@pytest.mark.parametrize("case", ["count_as_string", "count_as_float"])
def test_count_that_means_an_integer_is_typed(loaded: Loaded, case: str) -> None:
    assert loaded.row(case, "records_failed") == (12,)


@pytest.mark.parametrize(
    ("case", "column", "value"),
    [
        ("bool_in_count", "records_failed__v_bool", True),
        ("fraction_in_count", "records_failed__v_double", 12.5),
        ("huge_count", "records_processed__v_text", str(2**70)),
    ],
)
def test_count_that_is_not_an_integer_is_kept_verbatim(
    loaded: Loaded, case: str, column: str, value: Any
) -> None:
    typed = column.split("__v_")[0]
    assert loaded.row(case, typed, column) == (None, value)


def test_flags_as_strings_are_typed(loaded: Loaded) -> None:
    assert loaded.row("flags_as_strings", "canceled", "full_sync") == (True, False)


def test_flag_as_yes_is_kept_verbatim(loaded: Loaded) -> None:
    assert loaded.row("flag_as_yes", "canceled", "canceled__v_text") == (None, "yes")


def test_object_in_error_detail_is_kept_as_json(loaded: Loaded) -> None:
    detail, kept = loaded.row("object_in_error_detail", "error_detail", "error_detail__v_json")
    assert detail is None and json.loads(kept) == {"code": "E42", "row": 3}


def reason(loaded: Loaded, case: str, *columns: str) -> list[tuple[Any, ...]]:
    child = table(loaded.pipeline, "sync_runs__sync_trigger_reason")
    names = ", ".join(columns)
    rid = loaded.ids[case]
    return query(loaded.pipeline, f"SELECT {names} FROM {child} WHERE sync_run_id = {rid}")


def test_reason_that_is_a_string_lands_in_value(loaded: Loaded) -> None:
    assert reason(loaded, "reason_as_string", "value", "ui_tag") == [("api", None)]


def test_reason_that_is_an_empty_object_is_a_row_of_nulls(loaded: Loaded) -> None:
    assert reason(loaded, "reason_empty_object", "ui_tag", "ui_detail") == [(None, None)]


def test_reason_with_nested_keys_is_flattened(loaded: Loaded) -> None:
    rows = reason(loaded, "reason_nested", "ui_tag", "by__user", "by__id")
    assert rows == [("API", "ana", 7.0)]


def test_summary_counts_each_column_once_per_load(loaded: Loaded) -> None:
    counts = verbatim_counts(loaded.pipeline)
    assert counts == {
        "sync_runs.completed_at": 2,
        "sync_runs.updated_at": 1,
        "sync_runs.records_failed": 2,
        "sync_runs.records_processed": 1,
        "sync_runs.canceled": 1,
        "sync_runs.error_detail": 1,
    }
    assert verbatim_line(counts).startswith("values kept verbatim: 8, in columns ")


def test_log_names_column_and_example_once(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline, caplog: Any
) -> None:
    sync_id = next(s["id"] for s in world.syncs if len(world.runs_of(s["id"])) == 7)
    ids = [world.add_run(sync_id, status="completed", completed_at=v)["id"] for v in ("", " ")]
    with caplog.at_level(logging.WARNING):
        pipeline.run(source_for(simulator))
    lines = [r.getMessage() for r in caplog.records if "sync_runs.completed_at" in r.getMessage()]
    assert len(lines) == 1
    assert any(f"(e.g. run {rid})" in lines[0] for rid in ids)
    assert "kept verbatim in completed_at__v_text" in lines[0]
    assert verbatim_counts(pipeline) == {"sync_runs.completed_at": 2}


def test_reread_with_a_good_value_clears_the_variant(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = next(s["id"] for s in world.syncs if len(world.runs_of(s["id"])) == 7)
    run = world.add_run(sync_id, status="working", updated_at="", completed_at=None)
    pipeline.run(source_for(simulator))
    runs = table(pipeline, "sync_runs")
    sql = f"SELECT status, updated_at, updated_at__v_text FROM {runs} WHERE id = {run['id']}"
    assert query(pipeline, sql) == [("working", None, "")]
    world.update_run(
        run["id"],
        status="completed",
        updated_at="2024-06-01T10:00:00Z",
        completed_at="2024-06-01T10:00:00Z",
    )
    pipeline.run(source_for(simulator))
    assert query(pipeline, sql) == [("completed", at("2024-06-01T10:00:00Z"), None)]


def test_cli_summary_names_the_columns(tmp_path: Path) -> None:
    from tests.test_cli import syncruns

    world = World(seed=5, sync_run_counts=(3, 40))
    sync_id = world.syncs[1]["id"]
    world.add_run(sync_id, status="completed", completed_at="")
    world.add_run(sync_id, status="failed", records_failed=True, error_detail=[1])
    with CensusSimulator(world, token=TOKEN) as simulator:
        result = syncruns("run", "--quiet", "--base-url", simulator.base_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "values kept verbatim: 3, in columns sync_runs.completed_at (1), "
        "sync_runs.error_detail (1), sync_runs.records_failed (1)"
    ) in result.stdout.splitlines()
