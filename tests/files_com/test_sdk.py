"""The official Files.com SDK (`files-com`) against the simulator: listing, filters, paging,
errors and region relocation as the vendor's own client sees them."""

from typing import Any

import files_sdk
import pytest
from files_sdk.error import InvalidCredentialsError, InvalidCursorError, NotFoundError
from files_sdk.models.sync_run import SyncRun

from census_source.timestamps import parse_timestamp
from files_com_simulator import DEFAULT_API_KEY, FilesComSimulator, World
from files_com_source.cursor import api_timestamp


def client(sim: FilesComSimulator, **options: Any) -> files_sdk.Client:
    options.setdefault("api_key", DEFAULT_API_KEY)  # the SDK refuses keys not letters+digits
    root = sim.base_url.removesuffix("/api/rest/v1")
    options.setdefault("max_network_retries", 0)
    return files_sdk.Client(base_url=root, **options)


def ids(runs: Any) -> list[int]:
    return [run.id for run in runs]


def by_creation(runs: list[dict[str, Any]]) -> list[int]:
    return [
        r["id"] for r in sorted(runs, key=lambda r: (parse_timestamp(r["created_at"]), r["id"]))
    ]


@pytest.fixture
def sdk_sim(world: World) -> Any:
    with FilesComSimulator(world) as sim:
        yield sim


def test_sdk_lists_every_run_in_pages(world: World, sdk_sim: FilesComSimulator) -> None:
    truth = world.ground_truth_runs()
    with client(sdk_sim) as sdk:
        listing = sdk.sync_run.list({"per_page": 400, "sort_by": {"created_at": "asc"}})
        runs = list(listing.auto_paging_iter())

    assert ids(runs) == by_creation(truth)
    assert len(sdk_sim.requests) == -(-len(truth) // 400) > 2
    one = next(run for run in runs if run.live_transfers)
    stored = world.run(int(one.id or 0))
    assert stored is not None  # every field served is one the model declares, as served
    assert {name: getattr(one, name) for name in stored} == stored
    assert set(stored) == set(SyncRun.default_attributes)


def test_sdk_filters(world: World, sdk_sim: FilesComSimulator) -> None:
    truth = world.ground_truth_runs()
    sync_id = world.sync_ids[5]
    times = sorted({parse_timestamp(r["created_at"]) for r in truth})
    since = times[len(times) // 2]
    with client(sdk_sim) as sdk:
        of_sync = sdk.sync_run.list({"per_page": 250, "filter": {"sync_id": sync_id}})
        recent = sdk.sync_run.list(
            {"per_page": 250, "filter_gteq": {"created_at": api_timestamp(since)}}
        )
        failed = sdk.sync_run.list({"filter": {"status": "failure", "sync_id": sync_id}})
        newest = sdk.sync_run.list({"per_page": 3, "sort_by": {"created_at": "desc"}})
        got = (
            ids(of_sync.auto_paging_iter()),
            ids(recent.auto_paging_iter()),
            ids(failed.auto_paging_iter()),
            ids(newest),
        )

    of_sync_truth = [r for r in truth if r["sync_id"] == sync_id]
    assert got[0] == by_creation(of_sync_truth)
    assert got[1] == by_creation([r for r in truth if parse_timestamp(r["created_at"]) >= since])
    assert got[2] == by_creation([r for r in of_sync_truth if r["status"] == "failure"])
    assert got[3] == by_creation(truth)[::-1][:3]


def test_sdk_finds_one_run_and_maps_the_error_types(
    world: World, sdk_sim: FilesComSimulator
) -> None:
    run_id = world.open_run_ids()[-1]
    with client(sdk_sim) as sdk:
        assert sdk.sync_run.find(run_id).id == run_id
        with pytest.raises(NotFoundError):
            sdk.sync_run.find(1)
        with pytest.raises(InvalidCursorError):
            sdk.sync_run.list({"cursor": "not-a-cursor"})
    with client(sdk_sim, api_key="wrongkey") as sdk, pytest.raises(InvalidCredentialsError):
        sdk.sync_run.list()


def test_sdk_workspace_header_selects_the_workspace(
    world: World, sdk_sim: FilesComSimulator
) -> None:
    truth = world.ground_truth_runs()
    workspace = next(r["workspace_id"] for r in truth if r["workspace_id"])
    with client(sdk_sim, workspace_id=workspace) as sdk:
        runs = ids(sdk.sync_run.list({"per_page": 200}).auto_paging_iter())
    assert runs == by_creation([r for r in truth if r["workspace_id"] == workspace])
    assert 0 < len(runs) < len(truth)


def test_sdk_follows_the_region_lockout(world: World) -> None:
    with FilesComSimulator(world, region_host="localhost") as sim:
        origin, there = sim.root_url, f"http://localhost:{sim.port}"
        # the SDK follows plain http only for a development pair it is given
        with client(
            sim, region_development_origins=[(origin, there)], max_network_retries=1
        ) as sdk:
            runs = ids(sdk.sync_run.list({"per_page": 1000}).auto_paging_iter())
        assert [r.status for r in sim.requests][:2] == [403, 200]
    assert runs == by_creation(world.ground_truth_runs())
