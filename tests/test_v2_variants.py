"""Each unpublished Census API v2 detail varied in the simulator: exact data or one clear line.

One test per variant: v2 paths moved, `group_id` required on every request, an EU v2 host,
numeric ids, and v1 refused after its retirement.
"""

from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from census_simulator.v2 import MOVED_V2_PATHS, V2Variant
from census_source import census_source
from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusGroupError,
    CensusResponseError,
    CensusV1RetiredError,
)
from tests.conftest import PERSONAL_TOKEN, TOKEN, source_for, source_v2_for
from tests.test_api_v2 import v2_truth
from tests.truth import assert_matches_truth, query, table

GROUPS = ("north_wind", "south_sea")
EU_TOKEN = "sim-pat-eu-77c1d0"


def small_world() -> World:
    return World(seed=5, sync_run_counts=(3, 120, 0, 7, 40), groups=GROUPS)


def failure(pipeline: dlt.Pipeline, source: Any, kind: type[Exception]) -> str:
    """The message of the `kind` error a run of `source` ends with (one line)."""
    with pytest.raises(Exception) as raised:
        pipeline.run(source)
    cause: BaseException | None = raised.value
    while cause is not None and not isinstance(cause, kind):
        cause = cause.__cause__ or cause.__context__ or getattr(cause, "exception", None)
    assert isinstance(cause, kind), raised.value
    message = str(cause)
    assert "\n" not in message and PERSONAL_TOKEN not in message and TOKEN not in message
    return message


def test_moved_v2_paths_fail_in_one_line_then_load_exactly_with_v2_paths(
    pipeline: dlt.Pipeline,
) -> None:
    world = small_world()
    variant = V2Variant(paths=MOVED_V2_PATHS)
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_variant=variant
    ) as sim:
        message = failure(pipeline, source_v2_for(sim), CensusConfigError)
        assert "404 on GET /syncs" in message and "sources.census.v2_paths.syncs" in message

        pipeline.run(source_v2_for(sim, v2_paths=dict(MOVED_V2_PATHS)))
        assert_matches_truth(pipeline, v2_truth(world))
        paths = {r.path.split("?")[0] for r in sim.requests if r.status == 200}
        assert any(path.endswith("/runs") for path in paths)
        assert not any("/sync_runs" in path for path in paths)


def test_group_id_required_on_every_request(pipeline: dlt.Pipeline) -> None:
    world = small_world()
    variant = V2Variant(requires_group_id=True)
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_variant=variant
    ) as sim:
        message = failure(pipeline, source_v2_for(sim), CensusGroupError)
        assert "needs a group id for GET /syncs page 1" in message
        assert "param is missing or the value is empty: group_id" in message
        assert "sources.census.group_id" in message and "Destination Group ID" in message
        assert pipeline.first_run  # nothing was loaded or committed

        sim.reset_log()
        pipeline.run(source_v2_for(sim, group_ids=list(GROUPS), include_records=True))
        assert_matches_truth(pipeline, v2_truth(world))
        assert sim.requests and all(r.query.get("group_id") in GROUPS for r in sim.requests)
        assert all(r.status == 200 for r in sim.requests if "/records" not in r.path)


def test_an_eu_v2_host_of_its_own(pipeline: dlt.Pipeline) -> None:
    """EU has its own v2 host (the published guide changes only the base path): its token is
    refused by the US host in one line naming the host, and the EU host loads exactly."""
    eu_world, us_world = World(seed=8, sync_run_counts=(4, 30)), World(seed=9)
    with (
        CensusSimulator(eu_world, personal_access_token=EU_TOKEN) as eu,
        CensusSimulator(
            us_world,
            personal_access_token=PERSONAL_TOKEN,
            foreign_tokens={EU_TOKEN: "app-eu.getcensus.com"},
        ) as us,
    ):
        source = census_source(api_key=EU_TOKEN, base_url=us.base_url_v2, api_version="v2")
        message = failure(pipeline, source, CensusAuthError)
        assert f"at 127.0.0.1:{us.port}" in message
        assert "belongs to app-eu.getcensus.com" in message
        assert EU_TOKEN not in message

        source = census_source(api_key=EU_TOKEN, base_url=eu.base_url_v2, api_version="v2")
        pipeline.run(source)
        assert_matches_truth(pipeline, v2_truth(eu_world))


def test_numeric_v2_ids_load_exactly_in_a_new_and_in_a_v1_dataset(
    make_pipeline: Any,
) -> None:
    world = small_world()
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_id_style="integer"
    ) as sim:
        fresh = make_pipeline("v2_fresh")
        fresh.run(source_v2_for(sim))
        as_text = [
            {**run, "id": str(run["id"]), "sync_id": str(run["sync_id"])}
            for run in v2_truth(world, "integer")
        ]
        assert_matches_truth(fresh, as_text)

        moved = make_pipeline("v1_then_v2")
        moved.run(source_for(sim))
        world.advance(seconds=3600, new_runs_per_sync=2)
        moved.run(source_v2_for(sim))
        assert_matches_truth(moved, world.ground_truth_runs())
        groups = query(moved, f"SELECT DISTINCT group_id FROM {table(moved, 'sync_runs')}")
        assert set(groups) <= {(None,), *((group,) for group in GROUPS)}


@pytest.mark.parametrize("status", [410, 404, 401])
def test_v1_after_retirement_says_so_and_how_to_switch(pipeline: dlt.Pipeline, status: int) -> None:
    with CensusSimulator(small_world(), token=TOKEN, v1_retired_status=status) as sim:
        message = failure(pipeline, source_for(sim), CensusV1RetiredError)
    assert message.startswith("Census API v1 is retired: Census answered ")
    assert f"answered {status} on GET /syncs page 1" in message
    assert "sources.census.api_version = 'v2'" in message and "personal access token" in message
    assert "rejected the API token" not in message


def test_only_the_runs_path_moved_is_one_clear_error(pipeline: dlt.Pipeline) -> None:
    """Every sync's runs answering 404 looked like every sync deleted mid-load: a warning."""
    world = small_world()
    variant = V2Variant(paths={"sync_runs": MOVED_V2_PATHS["sync_runs"]})
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_variant=variant
    ) as sim:
        message = failure(pipeline, source_v2_for(sim), CensusResponseError)
        assert message == (
            f"the runs of every sync listed ({len(world.syncs)}) answered 404: the sync-runs "
            "endpoint is not at this path; on API v2 set sources.census.v2_paths.sync_runs "
            "(README 'Census API v2'), else check sources.census.base_url"
        )
        paths = {"sync_runs": MOVED_V2_PATHS["sync_runs"]}
        pipeline.run(source_v2_for(sim, v2_paths=paths))
    assert_matches_truth(pipeline, v2_truth(world))
