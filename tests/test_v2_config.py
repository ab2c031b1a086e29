"""The v2 facts as settings: roots per region, the `v2_paths` escape hatch, group settings."""

import pytest

from census_source import v2_facts
from census_source.config import resolve_base_url, validate_group_ids, with_v2_paths
from census_source.errors import CensusConfigError
from census_source.versions import V1, V2


def test_every_region_has_a_v2_root_and_eu_is_not_sent_to_the_us_host() -> None:
    assert set(V2.roots) == set(V1.roots) == {"us", "eu"}
    assert resolve_base_url("eu", None, V2) == "https://app-eu.getcensus.com/api/v2"
    assert resolve_base_url(" EU ", None, V2) != resolve_base_url("us", None, V2)
    with pytest.raises(
        CensusConfigError, match=r"Unknown region 'au': set sources\.census\.region"
    ):
        resolve_base_url("au", None, V2)


def test_v2_paths_override_endpoints_and_quote_ids() -> None:
    version = with_v2_paths(V2, {"sync_runs": "/activation_syncs/{sync_id}/runs"}, None)
    assert version.path("sync_runs", sync_id="sync 1/2") == "/activation_syncs/sync%201%2F2/runs"
    assert version.path("syncs") == "/syncs"  # the others keep the assumed paths
    assert V2.paths == v2_facts.V2_PATHS  # the facts themselves are untouched
    grouped = with_v2_paths(V2, {"syncs": "/groups/{group_id}/syncs"}, ("g1",))
    assert grouped.path("syncs", group_id="g1") == "/groups/g1/syncs"
    assert with_v2_paths(V2, None, None) is V2 and with_v2_paths(V2, {}, None) is V2


@pytest.mark.parametrize(
    ("paths", "says"),
    [
        ({"runs": "/x"}, "sources.census.v2_paths has no endpoint 'runs': use syncs, sync_runs"),
        ({"syncs": "activation_syncs"}, r"v2_paths\.syncs must be a path starting with /"),
        ({"syncs": 5}, r"v2_paths\.syncs must be a path starting with /"),
        ({"syncs": "/s?group_id=1"}, r"v2_paths\.syncs must be a path starting with /"),
        ({"syncs": "/a syncs"}, r"v2_paths\.syncs '/a syncs' must not hold blanks"),
        ({"sync_runs": "/syncs/{id}/runs"}, r"v2_paths\.sync_runs uses \{id\}: it may hold only"),
        ({"sync_runs": "/syncs/runs"}, r"v2_paths\.sync_runs must hold \{sync_id\}"),
        ({"records": "/runs/{run_id/records"}, r"v2_paths\.records .* has an unclosed"),
        ({"syncs": "/groups/{group_id}/syncs"}, r"v2_paths\.syncs holds \{group_id\}: set"),
        ("/activation_syncs", r"sources\.census\.v2_paths must map endpoint names to paths"),
    ],
)
def test_bad_v2_paths_are_one_line_naming_the_key(paths: object, says: str) -> None:
    with pytest.raises(CensusConfigError, match=says) as raised:
        with_v2_paths(V2, paths, None)
    assert "\n" not in str(raised.value)


def test_v2_paths_apply_only_to_v2() -> None:
    with pytest.raises(CensusConfigError, match=r"v2_paths applies only to API v2"):
        with_v2_paths(V1, {"syncs": "/activation_syncs"}, None)


def test_group_ids_keep_their_order_without_repeats() -> None:
    assert validate_group_ids(["b", " a ", "b"], None, V2) == ("b", "a")
    assert validate_group_ids(None, "a", V2) == ("a",)
    assert validate_group_ids([], "", V2) is None
    with pytest.raises(CensusConfigError, match=r"sources\.census\.group_ids applies only to"):
        validate_group_ids(["a"], None, V1)
