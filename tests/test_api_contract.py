"""Census: when the API breaks a promise the reader relies on, exact tables or one clear error.

Each test turns on one simulator quirk (census_simulator.quirks) and checks the tables against
the ground truth, the summary metrics, and the stored cursors (issue 13).
"""

import json
import logging
import re
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, Quirks, World
from census_source import PartialLoadError, raise_on_partial_load
from census_source.errors import CensusResponseError
from pipelines.summary import sync_problems, sync_runs_metrics
from syncruns_common.contract import CONTRACT_NOTICES
from tests.conftest import TOKEN, source_for
from tests.truth import assert_matches_truth, loaded_runs


def cursors(pipeline: dlt.Pipeline) -> dict[str, Any]:
    resources = pipeline.state.get("sources", {}).get("census", {}).get("resources", {})
    state: dict[str, Any] = json.loads(json.dumps(resources.get("sync_runs", {}).get("syncs", {})))
    return state


def notices(pipeline: dlt.Pipeline) -> dict[str, list[str]]:
    return dict(sync_runs_metrics(pipeline).get(CONTRACT_NOTICES, {}))


def run_list_pages(simulator: CensusSimulator) -> int:
    return sum(1 for r in simulator.requests if r.path.endswith("/sync_runs"))


@pytest.fixture
def world() -> World:
    return World(seed=11)


def serve(world: World, quirks: Quirks) -> CensusSimulator:
    return CensusSimulator(world, token=TOKEN, quirks=quirks)


def test_order_ignored_reads_in_full_warns_and_keeps_cursors(
    world: World, pipeline: dlt.Pipeline
) -> None:
    """The issue's repro: runs oldest first made three incremental loads miss 6, 18, 30 runs."""
    with serve(world, Quirks()) as simulator:
        pipeline.run(source_for(simulator))
        stored = cursors(pipeline)
        simulator.quirks = Quirks(ignore_order=True)
        for new_runs in (2, 6, 10):
            world.advance(seconds=3600, new_runs_per_sync=new_runs)
            pipeline.run(source_for(simulator))
            assert_matches_truth(pipeline, world.ground_truth_runs())
            said = notices(pipeline)
            multi_run = {str(s["id"]) for s in world.syncs if len(world.runs_of(s["id"])) > 1}
            assert set(said) == multi_run
            assert all("newest first" in m[0] and "cursor kept" in m[0] for m in said.values())
            assert cursors(pipeline) == {k: v for k, v in stored.items() if k in cursors(pipeline)}
            assert not sync_problems(pipeline)[0]
        simulator.quirks = Quirks()  # fixed by the vendor: the next load is incremental again
        world.advance(seconds=3600, new_runs_per_sync=1)
        simulator.reset_log()
        pipeline.run(source_for(simulator))
        assert_matches_truth(pipeline, world.ground_truth_runs())
        assert not notices(pipeline)
        assert run_list_pages(simulator) == len(world.syncs)


def test_order_ignored_in_a_backfill_window_is_exact(world: World, pipeline: dlt.Pipeline) -> None:
    runs = world.ground_truth_runs()
    created = sorted(r["created_at"] for r in runs)
    start, end = created[len(created) // 3], created[2 * len(created) // 3]
    with serve(world, Quirks(ignore_order=True)) as simulator:
        pipeline.run(source_for(simulator, start_date=start, end_date=end))
    inside = [r for r in runs if start <= r["created_at"] < end]
    assert sorted(loaded_runs(pipeline)) == sorted(r["id"] for r in inside)
    assert notices(pipeline)


def test_page_ignored_fails_those_syncs_with_one_clear_error(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with serve(world, Quirks(ignore_page=True)) as simulator:
        pipeline.run(source_for(simulator))
    failed, _ = sync_problems(pipeline)
    paged = {str(s["id"]) for s in world.syncs if len(world.runs_of(s["id"])) > 100}
    assert set(failed) == paged
    for sync_id, error in failed.items():
        assert error.startswith(f"GET /syncs/{sync_id}/sync_runs page 2 answered only runs")
        assert "ignores the paging parameter" in error
    # the first page of a failed sync is real data and stays; its cursor does not move
    first_pages = {r["id"] for sid in paged for r in world.runs_of(int(sid))[-100:]}
    landed = [
        r
        for r in world.ground_truth_runs()
        if str(r["sync_id"]) not in paged or r["id"] in first_pages
    ]
    assert_matches_truth(pipeline, landed)
    assert not set(cursors(pipeline)) & paged


def test_capped_page_size_is_exact(world: World, pipeline: dlt.Pipeline) -> None:
    with serve(world, Quirks(cap_per_page=30)) as simulator:
        pipeline.run(source_for(simulator))
        world.advance(seconds=3600, new_runs_per_sync=40)
        pipeline.run(source_for(simulator))
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert not notices(pipeline)


@pytest.mark.parametrize("off_by", [-40, 40])
def test_wrong_total_records_is_exact(off_by: int, world: World, pipeline: dlt.Pipeline) -> None:
    with serve(world, Quirks(total_records_off_by=off_by)) as simulator:
        pipeline.run(source_for(simulator))
        world.advance(seconds=3600, new_runs_per_sync=3)
        pipeline.run(source_for(simulator))
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert not sync_problems(pipeline)[0]


def test_total_records_above_the_runs_listed_is_reported(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with serve(world, Quirks(total_records_off_by=40)) as simulator:
        pipeline.run(source_for(simulator))
    assert_matches_truth(pipeline, world.ground_truth_runs())
    said = notices(pipeline)
    assert said and all("announced" in m[0] and "cursor kept" in m[0] for m in said.values())
    assert not cursors(pipeline)


def test_same_run_twice_on_a_page_is_exact(world: World, pipeline: dlt.Pipeline) -> None:
    with serve(world, Quirks(repeat_first_run=True)) as simulator:
        pipeline.run(source_for(simulator))
        world.advance(seconds=3600, new_runs_per_sync=3)
        pipeline.run(source_for(simulator))
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert not notices(pipeline)


def test_missing_pagination_is_one_clear_error(world: World, pipeline: dlt.Pipeline) -> None:
    with serve(world, Quirks(drop_pagination=True)) as sim, pytest.raises(Exception) as raised:
        pipeline.run(source_for(sim))
    said = r"GET /syncs/\d+/sync_runs page 1 answered JSON without the pagination.next_page "
    assert re.search(said + "envelope$", str(raised.value))
    assert not pipeline.state.get("sources")


def test_a_200_saying_error_is_retried(world: World, pipeline: dlt.Pipeline) -> None:
    with serve(world, Quirks(error_bodies=1)) as simulator:
        pipeline.run(source_for(simulator))
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_a_200_saying_error_every_time_is_one_clear_error(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with serve(world, Quirks(error_bodies=10_000)) as sim, pytest.raises(Exception) as raised:
        pipeline.run(source_for(sim))
    cause: BaseException | None = raised.value
    while cause is not None and not isinstance(cause, CensusResponseError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None
    assert str(cause) == (
        'GET /syncs page 1 answered 200 "status": "error" '
        '(Census: "internal error, try again") after every retry'
    )


def test_partial_load_is_an_error_log_and_raises_on_request(
    world: World, pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """From Python a partial load returned normally and showed only in a custom metric."""
    with serve(world, Quirks(ignore_page=True)) as simulator:
        with caplog.at_level(logging.ERROR):
            pipeline.run(source_for(simulator))
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and errors[0].startswith("Partial load: 2 of 8 syncs failed")
        assert "sync 1004: GET /syncs/1004/sync_runs page 2" in errors[0]
        assert "sync 1005: GET /syncs/1005/sync_runs page 2" in errors[0]
        with pytest.raises(PartialLoadError) as raised:
            raise_on_partial_load(pipeline)
        assert sorted(raised.value.failed) == ["1004", "1005"]
        assert str(raised.value).startswith("2 sync(s) failed after every retry")
        simulator.quirks = Quirks()
        pipeline.run(source_for(simulator))
    raise_on_partial_load(pipeline)  # caught up: nothing to raise
    assert_matches_truth(pipeline, world.ground_truth_runs())
