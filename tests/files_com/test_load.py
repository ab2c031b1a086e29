"""Full and incremental loads of Files.com sync runs, compared exactly with the ground truth."""

import math
from datetime import timedelta

import dlt

from census_source.timestamps import parse_timestamp
from files_com_simulator import FilesComSimulator, World
from files_com_source.cursor import api_timestamp
from tests.files_com.conftest import source_for
from tests.files_com.truth import (
    assert_matches_truth,
    cursor_state,
    fetch_requests,
    list_requests,
    query,
    rows_written,
)


def test_full_load_is_exact_in_pages_of_a_thousand(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    truth = world.ground_truth_runs()
    assert any(run["event_errors"] for run in truth) and world.open_run_ids()
    assert any(run.get("live_transfers") for run in truth)

    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, truth)
    # ~2,300 runs: three pages of the default 1,000 (the API's recommended most)
    assert len(simulator.requests) == math.ceil(len(truth) / 1000) == 3
    request = simulator.requests[0]
    assert request.path == "/api/rest/v1/sync_runs"
    assert {r.param("per_page") for r in simulator.requests} == {"1000"}
    assert request.param("sort_by[created_at]") == "asc"
    assert request.param("filter_gt[created_at]") is None
    cursor = cursor_state(pipeline)
    assert cursor is not None
    newest = max(parse_timestamp(run["created_at"]) for run in truth)
    assert parse_timestamp(cursor["high_water"]) == newest
    assert sorted(int(i) for i in cursor["open_runs"]) == world.open_run_ids()


def test_tables_and_column_types(simulator: FilesComSimulator, pipeline: dlt.Pipeline) -> None:
    pipeline.run(source_for(simulator))

    types = dict(
        query(
            pipeline,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'files_com'",
        )
    )
    expected = {
        "sync_runs.id": "BIGINT",
        "sync_runs.created_at": "TIMESTAMP WITH TIME ZONE",
        "sync_runs.completed_at": "TIMESTAMP WITH TIME ZONE",
        "sync_runs.updated_at": "TIMESTAMP WITH TIME ZONE",
        "sync_runs.sync_id": "BIGINT",
        "sync_runs.site_id": "BIGINT",
        "sync_runs.workspace_id": "BIGINT",
        "sync_runs.bytes_synced": "BIGINT",
        "sync_runs.errored_files": "BIGINT",
        "sync_runs.runtime": "DOUBLE",
        "sync_runs.dry_run": "BOOLEAN",
        "sync_runs.status": "VARCHAR",
        "sync_runs.sync_name": "VARCHAR",
        "sync_runs__event_errors.value": "VARCHAR",
        "sync_runs__event_errors._dlt_parent_id": "VARCHAR",
        "sync_runs__event_errors._dlt_list_idx": "BIGINT",
    }
    assert {name: types.get(name) for name in expected} == expected
    assert "sync_runs.event_errors" not in types  # the list went to the child table


def test_pages_follow_the_cursor_header(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator, per_page=500))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    requests = list_requests(simulator)
    assert len(requests) == math.ceil(world.run_count / 500)
    assert requests[0].param("cursor") is None
    assert all(r.param("cursor") for r in requests[1:])
    assert len({r.param("cursor") for r in requests[1:]}) == len(requests) - 1
    # the selection goes with every page: a cursor is only valid with it
    assert {(r.param("sort_by[created_at]"), r.param("per_page")) for r in requests} == {
        ("asc", "500")
    }


def test_incremental_after_advance_reads_only_new_and_open_runs(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    before = cursor_state(pipeline)
    assert before is not None
    was_open = {int(run_id) for run_id in before["open_runs"]}
    high_water = parse_timestamp(before["high_water"])
    stale = {  # open longer than the look-back: fetched by id, not listed
        int(i)
        for i, c in before["open_runs"].items()
        if parse_timestamp(c) < high_water - timedelta(hours=24)
    }
    assert stale and was_open - stale
    report = world.advance(seconds=7200, new_runs_per_sync=3)
    assert set(report.finished_run_ids) == was_open
    simulator.reset_log()

    info = pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    # the floor: one list request (the new runs fit one page) and one fetch per stale open run
    [listed] = list_requests(simulator)
    earliest_recent = min(
        parse_timestamp(c) for i, c in before["open_runs"].items() if int(i) not in stale
    )
    lower = min(high_water, earliest_recent) - timedelta(seconds=60)
    assert listed.param("filter_gt[created_at]") == api_timestamp(lower)
    assert sorted(int(r.path.rsplit("/", 1)[1]) for r in fetch_requests(simulator)) == sorted(stale)
    assert len(simulator.requests) == 1 + len(stale)
    assert rows_written(pipeline, info) == set(report.new_run_ids) | was_open
    after = cursor_state(pipeline)
    assert after is not None
    assert sorted(int(i) for i in after["open_runs"]) == world.open_run_ids()


def test_no_change_costs_one_request_and_rewrites_only_open_runs(pipeline: dlt.Pipeline) -> None:
    world = World(seed=4, stuck_open=0)
    with FilesComSimulator(world, api_key="k") as sim:
        pipeline.run(source_for(sim, api_key="k"))
        assert world.open_run_ids()
        sim.reset_log()

        info = pipeline.run(source_for(sim, api_key="k"))

        assert len(sim.requests) == 1
        assert rows_written(pipeline, info) == set(world.open_run_ids())
        assert_matches_truth(pipeline, world.ground_truth_runs())


def test_open_runs_finish_and_their_errors_are_replaced(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = world.sync_ids[3]
    growing = world.add_run(sync_id, status="in_progress", event_errors=["slow listing"])
    clearing = world.add_run(sync_id, status="in_progress", event_errors=["retrying /a.txt"])
    undocumented = world.add_run(sync_id, status="queued")  # a status the docs do not list
    pipeline.run(source_for(simulator))
    assert_matches_truth(pipeline, world.ground_truth_runs())
    cursor = cursor_state(pipeline)
    assert cursor is not None and str(undocumented["id"]) in cursor["open_runs"]

    world.update_run(
        growing["id"], status="failure", event_errors=["slow listing", "gave up on /b.txt"]
    )
    world.update_run(clearing["id"], status="success", event_errors=[])
    world.update_run(undocumented["id"], status="skipped")
    world.advance(seconds=600, new_runs_per_sync=0)
    assert not world.open_run_ids()
    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    errors = query(
        pipeline,
        "SELECT r.id, e.value FROM {sync_runs__event_errors} e "
        "JOIN {sync_runs} r ON e._dlt_parent_id = r._dlt_id "
        f"WHERE r.id IN ({growing['id']}, {clearing['id']}) ORDER BY e._dlt_list_idx",
    )
    assert errors == [(growing["id"], "slow listing"), (growing["id"], "gave up on /b.txt")]
    cursor = cursor_state(pipeline)
    assert cursor is not None and cursor["open_runs"] == {}


def test_late_and_same_second_runs_inside_the_overlap_are_loaded(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    cursor = cursor_state(pipeline)
    assert cursor is not None
    high_water = parse_timestamp(cursor["high_water"])
    sync_id = world.sync_ids[4]
    late = [
        # same instant, with a field the docs do not list
        world.add_run(sync_id, created_at=high_water, status="success", trigger="api"),
        world.add_run(sync_id, created_at=high_water - timedelta(seconds=45), status="failure"),
        # later by half a second: "…00.5Z" sorts before "…00Z" as a string, not as a time
        world.add_run(
            sync_id, created_at=high_water + timedelta(milliseconds=500), status="success"
        ),
    ]

    info = pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert {run["id"] for run in late} <= rows_written(pipeline, info)
    extra = query(pipeline, "SELECT id, trigger FROM {sync_runs} WHERE trigger IS NOT NULL")
    assert extra == [(late[0]["id"], "api")]  # undocumented fields pass through


def test_open_run_gone_from_the_api_is_dropped_from_the_cursor(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    cursor = cursor_state(pipeline)
    assert cursor is not None
    gone = min(int(i) for i in cursor["open_runs"])  # the stuck one: fetched by id
    world.delete_run(gone)
    simulator.reset_log()

    pipeline.run(source_for(simulator))

    assert [r.status for r in fetch_requests(simulator)] == [404]
    cursor = cursor_state(pipeline)
    assert cursor is not None and str(gone) not in cursor["open_runs"]
    simulator.reset_log()
    pipeline.run(source_for(simulator))
    assert not fetch_requests(simulator)
