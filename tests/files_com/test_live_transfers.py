"""`live_transfers` of runs in progress: a child table whose rows follow the run's latest state."""

import json
from typing import Any

import dlt

from files_com_simulator import MISSING, FilesComSimulator, World
from pipelines.summary import verbatim_counts
from tests.files_com.conftest import source_for
from tests.files_com.truth import assert_matches_truth, query


def transfer(path: str, copied: int, total: int = 1000) -> dict[str, Any]:
    return {
        "path": path,
        "status": "copying",
        "bytes_copied": copied,
        "bytes_total": total,
        "percentage": copied / total,
        "eta": "2 minutes",
        "started_at": "2025-02-28T23:00:05Z",
    }


def transfers_of(pipeline: dlt.Pipeline, run_id: int) -> list[tuple[Any, ...]]:
    return query(
        pipeline,
        "SELECT t._dlt_list_idx, t.path, t.bytes_copied, t.percentage "
        "FROM {sync_runs__live_transfers} t JOIN {sync_runs} r ON t._dlt_parent_id = r._dlt_id "
        f"WHERE r.id = {run_id} ORDER BY 1",
    )


def test_transfers_are_replaced_while_running_and_gone_once_finished(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = world.sync_ids[3]
    run = world.add_run(
        sync_id,
        status="in_progress",
        live_transfers=[transfer("a/one.csv", 10), transfer("b/two.csv", 500)],
    )
    pipeline.run(source_for(simulator))
    assert transfers_of(pipeline, run["id"]) == [
        (0, "a/one.csv", 10, 0.01),
        (1, "b/two.csv", 500, 0.5),
    ]
    assert_matches_truth(pipeline, world.ground_truth_runs())

    world.update_run(run["id"], live_transfers=[transfer("b/two.csv", 900)])
    pipeline.run(source_for(simulator))
    assert transfers_of(pipeline, run["id"]) == [(0, "b/two.csv", 900, 0.9)]
    assert_matches_truth(pipeline, world.ground_truth_runs())

    world.finish_run(run["id"])  # a finished run is sent without live_transfers
    assert "live_transfers" not in (world.run(run["id"]) or {})
    pipeline.run(source_for(simulator))
    assert transfers_of(pipeline, run["id"]) == []
    assert_matches_truth(pipeline, world.ground_truth_runs())

    types = dict(
        query(
            pipeline,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'sync_runs__live_transfers'",
        )
    )
    assert {name: types.get(name) for name in ("bytes_copied", "percentage", "started_at")} == {
        "bytes_copied": "BIGINT",
        "percentage": "DOUBLE",
        "started_at": "VARCHAR",
    }


def test_unfit_transfer_values_land_verbatim(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = world.sync_ids[2]
    odd = world.add_run(
        sync_id,
        status="in_progress",
        live_transfers=[{**transfer("x.bin", 5), "bytes_copied": "0x1A", "percentage": "50%"}],
    )
    not_a_list = world.add_run(sync_id, status="in_progress", live_transfers={"path": "y.bin"})
    plain = world.add_run(sync_id, status="in_progress", live_transfers=MISSING)

    pipeline.run(source_for(simulator))

    row = query(
        pipeline,
        "SELECT t.bytes_copied, t.bytes_copied__v_text, t.percentage, t.percentage__v_text "
        "FROM {sync_runs__live_transfers} t JOIN {sync_runs} r ON t._dlt_parent_id = r._dlt_id "
        f"WHERE r.id = {odd['id']}",
    )
    assert row == [(None, "0x1A", None, "50%")]  # never 26 or 0.5
    kept = query(
        pipeline, f"SELECT live_transfers__v_json FROM {{sync_runs}} WHERE id = {not_a_list['id']}"
    )
    assert json.loads(kept[0][0]) == {"path": "y.bin"}
    assert transfers_of(pipeline, plain["id"]) == []
    counts = verbatim_counts(pipeline)
    assert counts["sync_runs__live_transfers.bytes_copied"] == 1
    assert counts["sync_runs__live_transfers.percentage"] == 1
    assert counts["sync_runs.live_transfers"] == 1
