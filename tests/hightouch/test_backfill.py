"""A backfill window loads exactly the runs that started in it and leaves the cursors alone."""

import dlt

from census_source.timestamps import parse_timestamp
from hightouch_simulator import HightouchSimulator, World
from tests.hightouch.conftest import source_for
from tests.hightouch.truth import assert_matches_truth, cursors, full_load_requests, run_requests


def window_of(world: World) -> tuple[str, str]:
    """A window whose edges are the exact start times of two runs of the long sync."""
    runs = world.runs_of(world.syncs[5]["id"]) or []
    return runs[100]["startedAt"], runs[300]["startedAt"]


def started_in(run: dict[str, object], start: str, end: str) -> bool:
    started = parse_timestamp(str(run["startedAt"]))
    return parse_timestamp(start) <= started < parse_timestamp(end)


def test_backfill_loads_exactly_the_window(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    start, end = window_of(world)

    pipeline.run(source_for(simulator, start_date=start, end_date=end))

    truth = [run for run in world.ground_truth_runs() if started_in(run, start, end)]
    assert any(run["startedAt"] == start for run in truth)  # start is inclusive
    assert not any(run["startedAt"] == end for run in truth)  # end is exclusive
    assert_matches_truth(pipeline, truth)
    assert cursors(pipeline) == {}
    listings = run_requests(simulator)
    assert all("after" in r.query and "before" in r.query for r in listings)
    # the server filters: the long sync's 200 runs take 3 pages, not the 5 of its history
    assert len(run_requests(simulator, world.syncs[5]["id"])) == 3


def test_backfill_between_incremental_loads_leaves_the_cursors_untouched(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    before = cursors(pipeline)
    start, _ = window_of(world)

    pipeline.run(source_for(simulator, start_date=start[:10]))  # a date: from that midnight on

    assert cursors(pipeline) == before
    world.advance(seconds=3600, new_runs_per_sync=2)
    simulator.reset_log()
    pipeline.run(source_for(simulator))
    assert len(simulator.requests) == 1 + len(world.syncs)  # still incremental, at the floor
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_open_ended_backfill_of_everything_equals_a_full_load(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator, start_date="2020-01-01"))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert len(simulator.requests) == full_load_requests(world)
    assert cursors(pipeline) == {}
