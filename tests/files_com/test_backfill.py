"""A start_date/end_date window loads exactly the runs created in it and leaves the cursor alone."""

import json
from datetime import datetime, timedelta
from typing import Any

import dlt

from census_source.timestamps import parse_timestamp
from files_com_simulator import FilesComSimulator, RequestLogEntry, Response, World
from files_com_source.cursor import api_timestamp
from tests.files_com.conftest import API_KEY, source_for
from tests.files_com.truth import assert_matches_truth, cursor_state, list_requests


def created_in(world: World, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return [
        run
        for run in world.ground_truth_runs()
        if start <= parse_timestamp(run["created_at"]) < end
    ]


def test_window_is_exact_and_the_cursor_untouched(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    cursor = cursor_state(pipeline)
    world.advance(seconds=3600, new_runs_per_sync=2)
    # a boundary that falls exactly on runs: start is inclusive, end exclusive
    times = sorted({parse_timestamp(run["created_at"]) for run in world.ground_truth_runs()})
    start, end = times[len(times) // 3], times[len(times) // 2]
    window = created_in(world, start, end)
    assert window and any(parse_timestamp(run["created_at"]) == start for run in window)
    backfill = dlt.pipeline(
        pipeline_name="files_com_backfill",
        pipelines_dir=pipeline.pipelines_dir,
        destination=dlt.destinations.duckdb(pipeline.pipelines_dir + "/backfill_test.duckdb"),
        dataset_name="files_com",
    )
    simulator.reset_log()

    backfill.run(source_for(simulator, start_date=start, end_date=end))

    assert_matches_truth(backfill, window)
    [request] = list_requests(simulator)
    assert request.param("filter_gteq[created_at]") == api_timestamp(start)
    assert request.param("filter_lt[created_at]") == api_timestamp(end)
    assert cursor_state(backfill) is None  # a window never creates or moves the cursor

    pipeline.run(source_for(simulator, start_date=start, end_date=end))
    assert cursor_state(pipeline) == cursor
    pipeline.run(source_for(simulator))  # the cursor then carries on as if no window ran
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_window_with_start_only_accepts_dates_and_naive_utc(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    newest = max(parse_timestamp(run["created_at"]) for run in world.ground_truth_runs())
    start = (newest - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)

    pipeline.run(source_for(simulator, start_date=start.date().isoformat()))

    assert_matches_truth(pipeline, created_in(world, start, newest + timedelta(seconds=1)))
    assert cursor_state(pipeline) is None


def test_backfill_then_incremental_ends_exact(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    times = sorted(parse_timestamp(run["created_at"]) for run in world.ground_truth_runs())
    pipeline.run(source_for(simulator, end_date=times[100]))
    assert_matches_truth(pipeline, created_in(world, times[0], times[100]))

    pipeline.run(source_for(simulator))
    world.advance(seconds=1800)
    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())


class FilterIgnoringSimulator(FilesComSimulator):
    """An API that ignores the created_at filters and answers every run."""

    def fault_for(self, entry: RequestLogEntry) -> Response | None:
        if not entry.path.endswith("/sync_runs"):
            return None
        body = json.dumps(self.world.ground_truth_runs()).encode()
        return Response(200, body)


def test_window_stays_exact_when_the_api_ignores_the_filter(
    world: World, pipeline: dlt.Pipeline
) -> None:
    times = sorted(parse_timestamp(run["created_at"]) for run in world.ground_truth_runs())
    start, end = times[200], times[300]
    with FilterIgnoringSimulator(world, api_key=API_KEY) as sim:
        pipeline.run(source_for(sim, start_date=start, end_date=end))

    assert_matches_truth(pipeline, created_in(world, start, end))
