"""Edge cases of the incremental reader: windows, open runs, instants, paging races, 404s."""

import json
from datetime import timedelta
from typing import Any

import dlt
import pytest

from census_simulator import MISSING, CensusSimulator, RequestLogEntry, Response, World
from census_source.timestamps import parse_timestamp
from tests.conftest import TOKEN, source_for
from tests.truth import (
    assert_matches_truth,
    expected_reasons,
    loaded_reasons,
    loaded_runs,
    query,
    table,
)


def cursors(pipeline: dlt.Pipeline) -> dict[str, Any]:
    resources = pipeline.state.get("sources", {}).get("census", {}).get("resources", {})
    state: dict[str, Any] = json.loads(json.dumps(resources.get("sync_runs", {}).get("syncs", {})))
    return state


def runs_by_sync(world: World, count: int) -> int:
    return int(next(s["id"] for s in world.syncs if len(world.runs_of(s["id"])) == count))


def test_backfill_window_loads_exactly_the_window_and_keeps_cursors(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    before = cursors(pipeline)
    runs = world.ground_truth_runs()
    created = sorted(parse_timestamp(r["created_at"]) for r in runs)
    start, end = created[len(created) // 3], created[2 * len(created) // 3]

    fresh = dlt.pipeline(
        pipeline_name="window_only",
        pipelines_dir=pipeline.pipelines_dir,
        destination=dlt.destinations.duckdb(pipeline.pipelines_dir + "/window.duckdb"),
        dataset_name="census",
    )
    fresh.run(source_for(simulator, start_date=start.isoformat(), end_date=end))
    in_window = [r for r in runs if start <= parse_timestamp(r["created_at"]) < end]
    assert_matches_truth(fresh, in_window)
    assert cursors(fresh) == {}

    world.advance(seconds=3600)
    pipeline.run(source_for(simulator, start_date=start, end_date=end))
    assert cursors(pipeline) == before


def test_backfill_naive_dates_mean_utc(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    runs = world.ground_truth_runs()
    start = parse_timestamp(runs[len(runs) // 2]["created_at"]).replace(tzinfo=None)
    pipeline.run(source_for(simulator, start_date=start.isoformat()))
    expected = [r for r in runs if parse_timestamp(r["created_at"]).replace(tzinfo=None) >= start]
    assert_matches_truth(pipeline, expected)


def test_trigger_reason_child_rows_are_replaced_on_reload(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = runs_by_sync(world, 101)
    opened = [world.add_run(sync_id, status="working") for _ in range(3)]
    pipeline.run(source_for(simulator))
    finished = {"status": "completed", "completed_at": world.now, "current_step": None}
    world.update_run(
        opened[0]["id"], sync_trigger_reason={"ui_tag": "Schedule", "ui_detail": "x"}, **finished
    )
    world.update_run(opened[1]["id"], sync_trigger_reason=None, **finished)
    world.update_run(opened[2]["id"], sync_trigger_reason=MISSING, **finished)

    pipeline.run(source_for(simulator))

    truth = world.ground_truth_runs()
    assert_matches_truth(pipeline, truth)
    reasons = {row[0]: row for row in loaded_reasons(pipeline)}
    assert reasons[opened[0]["id"]][1:] == ("Schedule", "x")
    assert opened[1]["id"] not in reasons and opened[2]["id"] not in reasons
    assert set(loaded_reasons(pipeline)) == expected_reasons(truth)


def test_columns_are_typed(simulator: CensusSimulator, pipeline: dlt.Pipeline) -> None:
    pipeline.run(source_for(simulator))
    types = dict(
        query(
            pipeline,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{pipeline.dataset_name}' AND table_name = 'sync_runs'",
        )
    )
    for name in ("created_at", "updated_at", "completed_at", "scheduled_execution_time"):
        assert types[name] == "TIMESTAMP WITH TIME ZONE", name
    for name in ("id", "sync_id", "records_failed", "records_invalid", "source_record_count"):
        assert types[name] == "BIGINT", name
    assert types["canceled"] == types["full_sync"] == "BOOLEAN"
    assert types["error_message"] == types["status"] == "VARCHAR"


def test_unknown_fields_and_statuses_pass_through(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = runs_by_sync(world, 7)
    odd = world.add_run(sync_id, status="cancelling", shiny_new_metric=42, another_flag=True)
    pipeline.run(source_for(simulator))
    row = query(
        pipeline,
        f"SELECT status, shiny_new_metric, another_flag FROM {table(pipeline, 'sync_runs')} "
        f"WHERE id = {odd['id']}",
    )
    assert row == [("cancelling", 42, True)]
    assert str(odd["id"]) in cursors(pipeline)[str(sync_id)]["open_runs"]  # unknown = open


def test_timestamps_compare_as_instants_not_strings(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = runs_by_sync(world, 1)
    world.advance(seconds=600, new_runs_per_sync=0)
    whole_second = world.now.strftime("%Y-%m-%dT%H:%M:%S")
    world.add_run(sync_id, created_at=f"{whole_second}Z")
    pipeline.run(source_for(simulator, overlap_seconds=0))
    # "...00.500Z" sorts before "...00Z" as a string, but is half a second later
    later = world.add_run(sync_id, created_at=f"{whole_second}.500Z")
    assert later["created_at"] < f"{whole_second}Z"

    pipeline.run(source_for(simulator, overlap_seconds=0))

    assert later["id"] in loaded_runs(pipeline)
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_late_run_inside_the_overlap_is_loaded(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = runs_by_sync(world, 99)
    pipeline.run(source_for(simulator))
    newest = parse_timestamp(world.runs_of(sync_id)[-1]["created_at"])
    late = world.add_run(sync_id, created_at=newest - timedelta(seconds=20), status="completed")

    pipeline.run(source_for(simulator))

    assert late["id"] in loaded_runs(pipeline)


class InsertWhilePaging(CensusSimulator):
    """Creates runs of one sync right before its second page is served."""

    def __init__(self, world: World, sync_id: int, count: int) -> None:
        super().__init__(world, token=TOKEN)
        self.target = f"/api/v1/syncs/{sync_id}/sync_runs"
        self.sync_id, self.count, self.done = sync_id, count, False

    def fault_for(self, entry: RequestLogEntry) -> Response | None:
        if entry.path == self.target and entry.query.get("page") == "2" and not self.done:
            self.done = True
            for _ in range(self.count):
                self.world.add_run(self.sync_id, status="completed")
        return None


def test_runs_created_while_paging_are_neither_missed_nor_duplicated(
    world: World, pipeline: dlt.Pipeline
) -> None:
    sync_id = runs_by_sync(world, 2500)
    sim = InsertWhilePaging(world, sync_id, count=7)
    with sim:
        pipeline.run(source_for(sim))
        assert sim.done
        before_second = {r["id"] for r in world.ground_truth_runs()}
        loaded = loaded_runs(pipeline)
        assert len(before_second) - len(loaded) == 7  # the 7 newest arrive on the next run
        pipeline.run(source_for(sim))
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_open_runs_deep_in_history_are_fetched_by_id(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = runs_by_sync(world, 2500)
    history = world.runs_of(sync_id)
    deep = history[1000]["id"]  # ~15 pages below the newest
    shallow = [r["id"] for r in history[-180:-120:20]]  # three runs on page 2
    for run_id in [deep, *shallow]:
        world.update_run(run_id, status="working", completed_at=None)
    pipeline.run(source_for(simulator))
    for run_id in [deep, *shallow]:
        world.update_run(run_id, status="completed", completed_at=world.now)
    simulator.reset_log()

    pipeline.run(source_for(simulator))

    mine = [r for r in simulator.requests if f"/syncs/{sync_id}/" in r.path]
    fetched = [r.path for r in simulator.requests if r.path.startswith("/api/v1/sync_runs/")]
    assert len(mine) == 2  # page 1, then page 2 (cheaper than three single fetches)
    assert fetched == [f"/api/v1/sync_runs/{deep}"]  # one fetch instead of 13 more pages
    assert_matches_truth(pipeline, world.ground_truth_runs())


class DeleteSyncOnFirstRunsRequest(CensusSimulator):
    """Deletes a sync between the sync listing and the request for its runs."""

    def __init__(self, world: World, sync_id: int) -> None:
        super().__init__(world, token=TOKEN)
        self.sync_id = sync_id

    def fault_for(self, entry: RequestLogEntry) -> Response | None:
        if entry.path.endswith("/sync_runs") and self.world.sync(self.sync_id) is not None:
            self.world.delete_sync(self.sync_id)
        return None


def test_sync_deleted_mid_load_is_a_warning(
    world: World, pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    doomed = runs_by_sync(world, 30)
    with DeleteSyncOnFirstRunsRequest(world, doomed) as sim:
        pipeline.run(source_for(sim))
    truth = [r for r in world.ground_truth_runs() if r["sync_id"] != doomed]
    assert_matches_truth(pipeline, truth)
    assert str(doomed) not in cursors(pipeline)
    assert f"Sync {doomed} answered 404" in caplog.text


def test_a_run_without_created_at_fails_only_its_sync(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    from pipelines.summary import sync_problems

    sync_id = runs_by_sync(world, 7)
    broken = world.runs_of(sync_id)[-1]["id"]
    world.update_run(broken, created_at=MISSING)

    pipeline.run(source_for(simulator))

    failed, _ = sync_problems(pipeline)
    assert failed == {
        str(sync_id): f"run {broken} of sync {sync_id} has no valid created_at (None)"
    }
    assert str(sync_id) not in cursors(pipeline)
    others = [r for r in world.ground_truth_runs() if r["sync_id"] != sync_id]
    assert {r["id"] for r in others} <= set(loaded_runs(pipeline))
