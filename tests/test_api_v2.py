"""Census API v2: exact loads, group scope, id types, migration from v1, and wrong tokens."""

import json
import math
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, Response, World, as_v2
from census_source.errors import CensusAuthError, CensusConfigError
from tests.conftest import PERSONAL_TOKEN, TOKEN, source_for, source_v2_for
from tests.truth import assert_matches_truth, query, table


def v2_truth(world: World, style: str = "string") -> list[dict[str, Any]]:
    """The runs as API v2 shows them (ids in `style`)."""
    return [as_v2(run, style, world.group_of(run["sync_id"])) for run in world.ground_truth_runs()]


def column_types(pipeline: dlt.Pipeline, name: str) -> dict[str, str]:
    columns = pipeline.default_schema.get_table_columns(name)
    return {
        column: str(spec.get("data_type"))
        for column, spec in columns.items()
        if "data_type" in spec
    }


def test_v2_full_and_incremental_loads_are_exact_with_text_ids(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_v2_for(simulator))
    assert_matches_truth(pipeline, v2_truth(world))
    assert column_types(pipeline, "sync_runs")["id"] == "text"
    assert column_types(pipeline, "sync_runs__sync_trigger_reason")["sync_run_id"] == "text"
    syncs = query(pipeline, f"SELECT id, group_id FROM {table(pipeline, 'syncs')} ORDER BY id")
    assert syncs == sorted((str(s["id"]), "projected_sickle") for s in world.syncs)
    assert all(r.path.startswith("/api/v2/") for r in simulator.requests)

    world.advance(seconds=7200, new_runs_per_sync=3)
    simulator.reset_log()
    pipeline.run(source_v2_for(simulator))
    assert_matches_truth(pipeline, v2_truth(world))

    simulator.reset_log()
    pipeline.run(source_v2_for(simulator))
    syncs_count = len(world.syncs)
    assert len(simulator.requests) == math.ceil(syncs_count / 100) + syncs_count


def test_opaque_v2_ids_load_as_they_come(world: World, pipeline: dlt.Pipeline) -> None:
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_id_style="opaque"
    ) as sim:
        first = world.syncs[2]["id"]
        pipeline.run(source_v2_for(sim, sync_ids=[f"sync_{first}"]))
        expected = [run for run in v2_truth(world, "opaque") if run["sync_id"] == f"sync_{first}"]
        assert_matches_truth(pipeline, expected)
        world.advance(seconds=3600, new_runs_per_sync=2)
        pipeline.run(source_v2_for(sim, sync_ids=[f"sync_{first}"]))
        expected = [run for run in v2_truth(world, "opaque") if run["sync_id"] == f"sync_{first}"]
        assert_matches_truth(pipeline, expected)


def test_group_id_scopes_the_load_to_one_workspace(pipeline: dlt.Pipeline) -> None:
    world = World(seed=5, sync_run_counts=(3, 120, 0, 7, 40), groups=("north_wind", "south_sea"))
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        pipeline.run(source_v2_for(sim, group_id="south_sea"))
        expected = [run for run in v2_truth(world) if run["group_id"] == "south_sea"]
        assert expected and len(expected) < world.run_count
        assert_matches_truth(pipeline, expected)
        listed = [r for r in sim.requests if r.path == "/api/v2/syncs"]
        assert listed and all(r.query.get("group_id") == "south_sea" for r in listed)

        with pytest.raises(Exception, match=r"does not know group 'nowhere'.*sources\.census"):
            pipeline.run(source_v2_for(sim, group_id="nowhere"))


def test_a_v1_dataset_moves_to_v2_without_refetch_duplicates_or_type_changes(
    world: World, simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    types_before = column_types(pipeline, "sync_runs")
    assert types_before["id"] == "bigint"
    cursors_before = pipeline.state["sources"]["census"]["resources"]["sync_runs"]["syncs"]

    world.advance(seconds=7200, new_runs_per_sync=3)
    simulator.reset_log()
    pipeline.run(source_v2_for(simulator))

    # incremental from the v1 cursors: the sync list plus one page per sync, no history
    syncs = len(world.syncs)
    run_pages = [r for r in simulator.requests if r.path.endswith("/sync_runs")]
    assert all(r.query["page"] == "1" for r in run_pages), "old history was re-fetched"
    assert len(run_pages) == syncs
    assert_matches_truth(pipeline, world.ground_truth_runs())  # ints, one row per run
    types_after = column_types(pipeline, "sync_runs")
    assert {name: types_after[name] for name in types_before} == types_before
    assert set(types_after) - set(types_before) == {"group_id"}  # v2 runs name their group
    assert set(pipeline.state["sources"]["census"]["resources"]["sync_runs"]["syncs"]) == set(
        cursors_before
    )
    synced = query(pipeline, f"SELECT id, group_id FROM {table(pipeline, 'syncs')} ORDER BY id")
    assert synced == [(s["id"], "projected_sickle") for s in world.syncs]


def test_non_numeric_ids_into_a_v1_dataset_fail_clearly_and_change_nothing(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_id_style="opaque"
    ) as sim:
        pipeline.run(source_for(sim))
        state_before = pipeline.state["sources"]
        rows_before = query(pipeline, f"SELECT COUNT(*) FROM {table(pipeline, 'sync_runs')}")
        with pytest.raises(Exception, match=r"non-numeric id 'sync_.*new dataset"):
            pipeline.run(source_v2_for(sim))
        assert pipeline.state["sources"] == state_before
        assert query(pipeline, f"SELECT COUNT(*) FROM {table(pipeline, 'sync_runs')}") == (
            rows_before
        )


@pytest.mark.parametrize(
    ("version", "token", "server_says", "advice"),
    [
        ("v2", TOKEN, "requires a personal access token", "api_version = 'v1'"),
        ("v1", PERSONAL_TOKEN, "requires a workspace API token", "api_version = 'v2'"),
    ],
)
def test_a_token_of_the_other_api_version_gets_a_clear_error(
    simulator: CensusSimulator,
    pipeline: dlt.Pipeline,
    version: str,
    token: str,
    server_says: str,
    advice: str,
) -> None:
    from census_source import census_source

    base = simulator.base_url_v2 if version == "v2" else simulator.base_url
    source = census_source(api_key=token, base_url=base, api_version=version)
    with pytest.raises(Exception) as raised:
        pipeline.run(source)
    cause: BaseException | None = raised.value
    while cause is not None and not isinstance(cause, CensusAuthError):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, CensusAuthError)
    message = str(cause)
    assert server_says in message and advice in message and "sources.census.api_key" in message
    assert token not in message
    assert "\n" not in message


def test_group_id_with_v1_is_a_config_error(simulator: CensusSimulator) -> None:
    with pytest.raises(CensusConfigError, match="group_id applies only to API v2"):
        source_for(simulator, group_id="projected_sickle")


class EchoingSimulator(CensusSimulator):
    """A server whose 401 message repeats the token it was sent (some APIs do)."""

    def fault_for(self, entry: Any) -> Any:
        body = json.dumps({"status": "error", "message": f"token {TOKEN} is not valid here"})
        return Response(401, body.encode())


def test_a_server_message_that_echoes_the_token_is_quoted_without_it(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with EchoingSimulator(world, token=TOKEN) as sim, pytest.raises(Exception) as raised:
        pipeline.run(source_for(sim))
    cause: BaseException | None = raised.value
    while cause is not None and not isinstance(cause, CensusAuthError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None
    assert TOKEN not in str(cause) and "token <token> is not valid here" in str(cause)
