"""API v2 groups: several groups into one dataset, rows tagged with their group."""

import dlt
import pytest

from census_simulator import CensusSimulator, World
from census_source.errors import CensusConfigError
from tests.conftest import PERSONAL_TOKEN, TOKEN, source_v2_for
from tests.test_api_v2 import v2_truth
from tests.truth import assert_matches_truth, query, table

GROUPS = ("north_wind", "south_sea", "east_gate")


def test_group_ids_load_several_groups_into_one_dataset_tagged(pipeline: dlt.Pipeline) -> None:
    world = World(seed=6, sync_run_counts=(3, 120, 0, 7, 40, 101), groups=GROUPS)
    chosen = ["south_sea", "north_wind"]
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        pipeline.run(source_v2_for(sim, group_ids=chosen))
        expected = [run for run in v2_truth(world) if run["group_id"] in chosen]
        assert expected and len(expected) < world.run_count
        assert_matches_truth(pipeline, expected)
        listed = [r.query.get("group_id") for r in sim.requests if r.path == "/api/v2/syncs"]
        assert listed == chosen  # one sync list per group, in the order given
        run_lists = [r for r in sim.requests if r.path.endswith("/sync_runs")]
        assert all(r.query.get("group_id") in chosen for r in run_lists)

    syncs = query(pipeline, f"SELECT id, group_id FROM {table(pipeline, 'syncs')} ORDER BY id")
    assert syncs == sorted(
        (str(s["id"]), world.group_of(s["id"]))
        for s in world.syncs
        if world.group_of(s["id"]) in chosen
    )
    runs = query(pipeline, f"SELECT id, group_id FROM {table(pipeline, 'sync_runs')}")
    assert sorted(runs) == sorted((run["id"], run["group_id"]) for run in expected)


def test_the_single_group_id_alias_and_repeats(pipeline: dlt.Pipeline) -> None:
    world = World(seed=6, sync_run_counts=(3, 12, 7), groups=GROUPS[:2])
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        pipeline.run(source_v2_for(sim, group_id=["south_sea", "south_sea"]))  # as the CLI sends
        assert_matches_truth(pipeline, [r for r in v2_truth(world) if r["group_id"] == "south_sea"])
        listed = [r.query.get("group_id") for r in sim.requests if r.path == "/api/v2/syncs"]
        assert listed == ["south_sea"]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"group_id": "a", "group_ids": ["b"]}, "group_ids and sources.census.group_id are both"),
        ({"group_ids": ["ok", "two words"]}, "sources.census.group_ids 'two words' is not a valid"),
        ({"group_ids": [True]}, "sources.census.group_ids True is not a valid group id"),
        ({"group_ids": {"a": 1}}, "sources.census.group_ids {'a': 1} is not a valid group id"),
    ],
)
def test_bad_group_settings_name_the_key(options: dict[str, object], says: str) -> None:
    with (
        CensusSimulator(World(seed=1, sync_run_counts=(1,))) as sim,
        pytest.raises(CensusConfigError, match=says),
    ):
        source_v2_for(sim, **options)
