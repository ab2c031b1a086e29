"""Full and incremental loads against the simulator, compared exactly with its ground truth."""

import math
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from tests.conftest import source_for
from tests.truth import assert_matches_truth, query, table


def run_list_requests(sim: CensusSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith("/sync_runs")]


def test_full_load_matches_ground_truth(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    sync_ids = [row[0] for row in query(pipeline, f"SELECT id FROM {table(pipeline, 'syncs')}")]
    assert sorted(sync_ids) == [s["id"] for s in world.ground_truth_syncs()]
    mappings = query(pipeline, f"SELECT COUNT(*) FROM {table(pipeline, 'syncs__mappings')}")
    assert mappings[0][0] == sum(len(s["mappings"]) for s in world.syncs)
    # a full history costs one request per 100 runs (at least one per sync), nothing more
    expected = sum(max(1, math.ceil(len(world.runs_of(s["id"])) / 100)) for s in world.syncs)
    assert len(run_list_requests(simulator)) == expected


def test_incremental_after_advance(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    deleted = world.syncs[3]["id"]
    world.delete_sync(deleted)
    report = world.advance(seconds=7200, new_runs_per_sync=3, add_syncs=1)
    assert report.new_run_ids and report.finished_run_ids and report.added_sync_ids

    pipeline.run(source_for(simulator))

    truth = world.ground_truth_runs()
    assert_matches_truth(pipeline, truth)
    assert any(run["sync_id"] == deleted for run in truth)  # the deleted sync's runs stay


def test_no_change_run_costs_one_request_per_sync(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    simulator.reset_log()

    info = pipeline.run(source_for(simulator))

    syncs = len(world.syncs)
    sync_pages = [r for r in simulator.requests if r.path.endswith("/syncs")]
    assert len(sync_pages) == math.ceil(syncs / 100)
    assert len(run_list_requests(simulator)) == syncs
    assert len(simulator.requests) == math.ceil(syncs / 100) + syncs
    touched = query(
        pipeline,
        f"SELECT COUNT(*) FROM {table(pipeline, 'sync_runs')} "
        f"WHERE _dlt_load_id = '{info.loads_ids[-1]}'",
    )
    assert touched[0][0] == 0
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_incremental_reads_only_the_new_pages(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    big = max(world.syncs, key=lambda s: len(world.runs_of(s["id"])))["id"]
    world.advance(seconds=3600, new_runs_per_sync={big: 150}, finish_open=False)
    simulator.reset_log()

    pipeline.run(source_for(simulator))

    big_pages = [r for r in simulator.requests if r.path == f"/api/v1/syncs/{big}/sync_runs"]
    assert len(big_pages) == 2  # 150 new runs: two pages, no more
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_sync_ids_restrict_the_load(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    chosen = [world.syncs[1]["id"], world.syncs[4]["id"]]

    pipeline.run(source_for(simulator, sync_ids=chosen))

    truth = [run for run in world.ground_truth_runs() if run["sync_id"] in chosen]
    assert_matches_truth(pipeline, truth)
    synced = {r.path.split("/")[-2] for r in run_list_requests(simulator)}
    assert synced == {str(sync_id) for sync_id in chosen}


def test_unknown_sync_id_fails_without_loading(
    simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    with pytest.raises(Exception, match=r"sync id\(s\) 999999 not found.*sources.census.sync_ids"):
        pipeline.run(source_for(simulator, sync_ids=[999999]))
    assert pipeline.default_schema_name is None or "sync_runs" not in pipeline.default_schema.tables
