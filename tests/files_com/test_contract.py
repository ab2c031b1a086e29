"""Listings that break a promise (order, paging, page size) end exact or with one clear error."""

import math

import dlt
import pytest

from files_com_simulator import FilesComSimulator, Quirks, World
from files_com_source import FilesComResponseError, FilesComUnreachableError
from pipelines.summary import sync_runs_metrics
from syncruns_common.contract import CONTRACT_NOTICES
from tests.files_com.conftest import API_KEY, source_for
from tests.files_com.test_errors import failed_load
from tests.files_com.truth import (
    assert_matches_truth,
    cursor_state,
    list_requests,
    loaded_runs,
)


def notices(pipeline: dlt.Pipeline) -> dict[str, list[str]]:
    """The CONTRACT_NOTICES metric of sync_runs in the last extract."""
    return dict(sync_runs_metrics(pipeline).get(CONTRACT_NOTICES, {}))


def test_runs_out_of_order_load_exact_and_keep_the_cursor(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with FilesComSimulator(world, api_key=API_KEY) as sim:
        pipeline.run(source_for(sim))
        cursor = cursor_state(pipeline)
        world.advance(seconds=3600, new_runs_per_sync=30)
        sim.quirks = Quirks(reverse_pages=True)

        pipeline.run(source_for(sim, per_page=50))

        assert_matches_truth(pipeline, world.ground_truth_runs())
        [said] = notices(pipeline)["*"]
        assert "created_at ascending" in said and "cursor kept" in said
        assert cursor_state(pipeline) == cursor

        sim.quirks = None  # the API keeps its promise again: the cursor moves on
        pipeline.run(source_for(sim))
        assert_matches_truth(pipeline, world.ground_truth_runs())
        assert notices(pipeline) == {}
        assert cursor_state(pipeline) != cursor


def test_a_server_capping_per_page_lower_stays_exact(world: World, pipeline: dlt.Pipeline) -> None:
    with FilesComSimulator(world, api_key=API_KEY, quirks=Quirks(cap_per_page=300)) as sim:
        pipeline.run(source_for(sim))

        assert_matches_truth(pipeline, world.ground_truth_runs())
        requests = list_requests(sim)
        assert len(requests) == math.ceil(world.run_count / 300)
        assert {r.param("per_page") for r in requests} == {"1000"}


def test_the_same_run_twice_on_a_page_loads_once(world: World, pipeline: dlt.Pipeline) -> None:
    with FilesComSimulator(world, api_key=API_KEY, quirks=Quirks(repeat_first_run=True)) as sim:
        pipeline.run(source_for(sim, per_page=400))
        world.advance(seconds=600)
        pipeline.run(source_for(sim, per_page=400))

    assert_matches_truth(pipeline, world.ground_truth_runs())  # duplicate ids would fail


@pytest.mark.parametrize(
    ("quirks", "page", "says"),
    [
        (Quirks(cursor_back_after=2), 3, "page cursor this listing already followed"),
        (Quirks(ignore_cursor=True), 2, "answered only runs already read on this listing"),
    ],
)
def test_paging_that_makes_no_progress_is_one_clear_error(
    quirks: Quirks, page: int, says: str, world: World, pipeline: dlt.Pipeline
) -> None:
    with FilesComSimulator(world, api_key=API_KEY) as sim:
        pipeline.run(source_for(sim))
        cursor, runs = cursor_state(pipeline), loaded_runs(pipeline)
        world.advance(seconds=3600, new_runs_per_sync=40)
        sim.quirks = quirks
        sim.reset_log()

        error = failed_load(pipeline, api_key=API_KEY, base_url=sim.base_url, per_page=50)

        assert len(list_requests(sim)) == page  # stopped there, not looping
    assert isinstance(error, FilesComResponseError)
    assert f"GET /sync_runs page {page}" in str(error) and says in str(error)
    assert cursor_state(pipeline) == cursor and loaded_runs(pipeline) == runs


def test_a_listing_failing_half_way_fails_the_load_and_changes_nothing(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with FilesComSimulator(world, api_key=API_KEY) as sim:
        pipeline.run(source_for(sim))
        cursor, runs = cursor_state(pipeline), loaded_runs(pipeline)
        world.advance(seconds=3600, new_runs_per_sync=40)
        sim.quirks = Quirks(fail_cursor_pages=True)

        error = failed_load(pipeline, api_key=API_KEY, base_url=sim.base_url, per_page=50)

        assert isinstance(error, FilesComUnreachableError)
        assert "kept answering 500 on GET /sync_runs page 2" in str(error)
        # the first page's runs were read, but nothing of this load is written
        assert cursor_state(pipeline) == cursor and loaded_runs(pipeline) == runs
        sim.quirks = None
        pipeline.run(source_for(sim, per_page=50))
    assert_matches_truth(pipeline, world.ground_truth_runs())
