"""Full and incremental loads against the simulator, exact against its ground truth."""

import dlt

from hightouch_simulator import OPEN_STATUSES, HightouchSimulator, World
from tests.hightouch.conftest import source_for
from tests.hightouch.truth import (
    assert_matches_truth,
    cursors,
    full_load_requests,
    query,
    rows_of_load,
    run_requests,
    table,
)


def test_full_load_matches_ground_truth(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    rows = query(
        pipeline,
        f"SELECT id, slug, status, last_run_at FROM {table(pipeline, 'syncs')} ORDER BY id",
    )
    assert [row[:3] for row in rows] == [
        (int(s["id"]), s["slug"], s["status"]) for s in world.ground_truth_syncs()
    ]
    assert len(simulator.requests) == full_load_requests(world)
    assert all(r.query["limit"] == "100" and "after" not in r.query for r in simulator.requests)


def test_camel_case_fields_land_as_typed_snake_case_columns(
    simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))

    def columns(name: str) -> dict[str, str]:
        sql = (
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{pipeline.dataset_name}' AND table_name = '{name}'"
        )
        return dict(query(pipeline, sql))

    counts = {
        f"{group}__{count}": "BIGINT"
        for group in ("planned_rows", "successful_rows", "failed_rows")
        for count in ("added_count", "changed_count", "removed_count")
    }
    stamp = "TIMESTAMP WITH TIME ZONE"
    assert columns("sync_runs") == {
        "id": "BIGINT",
        "sync_id": "BIGINT",
        "created_at": stamp,
        "started_at": stamp,
        "finished_at": stamp,
        "status": "VARCHAR",
        "error": "VARCHAR",
        "completion_ratio": "DOUBLE",
        "query_size": "BIGINT",
        **counts,
        "_dlt_load_id": "VARCHAR",
        "_dlt_id": "VARCHAR",
    }
    assert columns("syncs") == {
        "id": "BIGINT",
        "slug": "VARCHAR",
        "workspace_id": "VARCHAR",
        "model_id": "VARCHAR",
        "destination_id": "VARCHAR",
        "status": "VARCHAR",
        "disabled": "BOOLEAN",
        "primary_key": "VARCHAR",
        "created_at": stamp,
        "updated_at": stamp,
        "last_run_at": stamp,
        "configuration": "JSON",
        "schedule": "JSON",
        "referenced_columns": "JSON",
        "_dlt_load_id": "VARCHAR",
        "_dlt_id": "VARCHAR",
    }


def test_incremental_after_advance_is_exact_at_the_request_floor(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    had_runs = [s["id"] for s in world.syncs if world.runs_of(s["id"])]
    report = world.advance(seconds=7200, new_runs_per_sync=3, add_syncs=1)
    assert report.new_run_ids and report.finished_run_ids and report.added_sync_ids
    simulator.reset_log()

    info = pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    # one list of syncs, then one page per sync: new runs fit on it, open runs are on it too
    assert len(simulator.requests) == 1 + len(world.syncs)
    assert all("after" in run_requests(simulator, sync_id)[0].query for sync_id in had_runs)
    # only what changed was written: new runs and the runs that finished
    changed = set(report.new_run_ids) | set(report.finished_run_ids)
    assert rows_of_load(pipeline, info.loads_ids[-1]) == changed


def test_nothing_new_costs_one_request_per_sync_and_writes_nothing(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    simulator.reset_log()

    info = pipeline.run(source_for(simulator))

    assert len(simulator.requests) == 1 + len(world.syncs)
    assert rows_of_load(pipeline, info.loads_ids[-1]) == set()
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_many_new_runs_read_only_the_new_pages(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    big = world.syncs[5]["id"]  # 450 runs of history
    world.advance(seconds=3600, new_runs_per_sync={big: 150}, finish_open=False)
    simulator.reset_log()

    pipeline.run(source_for(simulator))

    assert len(run_requests(simulator, big)) == 2  # 150 new runs (+ a few at the edge): 2 pages
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_open_runs_finishing_are_reloaded_with_their_final_state(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    open_ids = world.open_run_ids()
    waiting = ("pending", "queued")
    queued = [run_id for run_id in open_ids if world.run(run_id)["status"] in waiting]  # type: ignore[index]
    assert open_ids and queued, "the seeded world must start with open and waiting runs"
    before = {row[0]: row[1:] for row in query(pipeline, _status_sql(pipeline, open_ids))}
    assert all(status in OPEN_STATUSES for status, *_ in before.values())
    assert all(finished is None for _, _, finished in before.values())

    world.advance(seconds=3600, new_runs_per_sync=0)
    simulator.reset_log()
    pipeline.run(source_for(simulator))

    after = {row[0]: row[1:] for row in query(pipeline, _status_sql(pipeline, open_ids))}
    assert all(status not in OPEN_STATUSES for status, *_ in after.values())
    assert all(finished is not None for _, _, finished in after.values())
    assert all(after[run_id][1] > before[run_id][1] for run_id in queued)  # started when dequeued
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert len(simulator.requests) == 1 + len(world.syncs)
    assert all(not state["open_runs"] for state in cursors(pipeline).values())


def _status_sql(pipeline: dlt.Pipeline, run_ids: list[int]) -> str:
    ids = ", ".join(str(run_id) for run_id in run_ids)
    return (
        f"SELECT id, status, started_at, finished_at FROM {table(pipeline, 'sync_runs')} "
        f"WHERE id IN ({ids})"
    )


def test_an_old_stuck_run_is_fetched_alone_not_by_paging_back(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    big = world.syncs[5]["id"]
    stuck = world.runs_of(big)[20]["id"]  # type: ignore[index]
    world.update_run(stuck, status="processing", finishedAt=None, error=None)
    pipeline.run(source_for(simulator))
    assert stuck in {int(run_id) for run_id in cursors(pipeline)[big]["open_runs"]}
    world.update_run(stuck, status="failed", finishedAt=world.now.isoformat(), error="gave up")
    simulator.reset_log()

    pipeline.run(source_for(simulator))

    requests = run_requests(simulator, big)
    assert len(requests) == 2  # the new page, then this one run by id: not 5 pages back to it
    assert requests[1].query["runId"] == str(stuck)
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert str(stuck) not in cursors(pipeline)[big]["open_runs"]


def test_sync_ids_restrict_the_load(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    chosen = [world.syncs[2]["id"], world.syncs[6]["id"]]

    pipeline.run(source_for(simulator, sync_ids=[int(chosen[0]), chosen[1]]))

    truth = [run for run in world.ground_truth_runs() if run["syncId"] in chosen]
    assert_matches_truth(pipeline, truth)
    assert {r.path.split("/")[-2] for r in run_requests(simulator)} == set(chosen)
    assert sorted(cursors(pipeline)) == sorted(chosen)


def test_a_deleted_sync_keeps_its_loaded_runs(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    gone = world.syncs[3]["id"]
    world.advance(seconds=1800, delete_syncs=[gone])
    simulator.reset_log()

    pipeline.run(source_for(simulator))

    assert not run_requests(simulator, gone)
    truth = world.ground_truth_runs()
    assert any(run["syncId"] == gone for run in truth)
    assert_matches_truth(pipeline, truth)
