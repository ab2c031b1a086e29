"""The simulator's API v2 and records endpoint over real HTTP: tokens, groups, ids, records."""

from __future__ import annotations

import itertools
import json
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from census_simulator import (
    DEFAULT_GROUP,
    RECORDS_PER_STATUS_CAP,
    V2_ID_STYLES,
    CensusSimulator,
    FaultPlan,
    World,
    as_v2,
    v2_run_id,
    v2_sync_id,
)
from census_simulator import faults as f
from simulator_common.timefmt import parse_us, to_us

TOKEN = "sim-workspace-token-7c2e"
PAT = "sim-personal-token-41b9"
GROUPS = ("wandering_aimlessly", "projected_sickle", "quiet_harbor")
COUNTS = (3, 120, 0, 101, 7, 40, 2, 450)
"""Sync i belongs to GROUPS[i % 3]; the 450-run sync reaches back past 14 days."""
REPO_ROOT = Path(__file__).resolve().parent.parent
V2_NEEDS_PAT = {
    "status": "error",
    "message": "Census API v2 requires a personal access token; "
    "workspace API tokens work only with /api/v1",
}
V1_NEEDS_TOKEN = {"status": "error", "message": "Census API v1 requires a workspace API token"}
UNAUTHORIZED = {"status": "error", "message": "Unauthorized"}


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def world() -> World:
    """Three groups; tests using it must not mutate it."""
    return World(seed=21, sync_run_counts=COUNTS, groups=GROUPS)


@pytest.fixture(scope="module", params=V2_ID_STYLES)
def styled_sim(request: pytest.FixtureRequest, world: World) -> Iterator[CensusSimulator]:
    """The shared world served once per v2 id style."""
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PAT, v2_id_style=request.param
    ) as sim:
        yield sim


@pytest.fixture(scope="module")
def sim(world: World) -> Iterator[CensusSimulator]:
    """The shared world with default options (string ids, 14-day retention)."""
    with CensusSimulator(world, token=TOKEN, personal_access_token=PAT) as simulator:
        yield simulator


@pytest.fixture
def fresh() -> Iterator[CensusSimulator]:
    """A small world a test may change, two groups, opaque ids."""
    small = World(seed=5, sync_run_counts=(3, 10, 120, 0), groups=("alpha", "beta"))
    with CensusSimulator(
        small, token=TOKEN, personal_access_token=PAT, v2_id_style="opaque"
    ) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def v1() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        yield session


@pytest.fixture(scope="module")
def v2() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {PAT}"
        yield session


def get(http: requests.Session, url: str, **params: Any) -> Any:
    response = http.get(url, params=params, timeout=10)
    assert response.status_code == 200, (url, response.text)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def walk(http: requests.Session, url: str, per_page: int, **params: Any) -> list[Any]:
    """Every item of a list endpoint, checking the envelope and pagination of each page."""
    items: list[Any] = []
    page, total = 1, None
    while True:
        body = get(http, url, page=page, per_page=per_page, **params)
        assert set(body) == {"status", "data", "pagination"} and body["status"] == "success"
        total = body["pagination"]["total_records"] if total is None else total
        last_page = max(1, -(-total // per_page))
        assert body["pagination"] == {
            "total_records": total,
            "per_page": per_page,
            "prev_page": page - 1 if page > 1 else None,
            "page": page,
            "next_page": page + 1 if page < last_page else None,
            "last_page": last_page,
        }
        assert len(body["data"]) == max(0, min(per_page, total - (page - 1) * per_page))
        items.extend(body["data"])
        if page == last_page:
            return items
        page += 1


def in_group(world: World, group: str) -> list[dict[str, Any]]:
    return [sync for sync in world.syncs if world.group_of(sync["id"]) == group]


def v2_sync(world: World, sync: dict[str, Any], style: str) -> dict[str, Any]:
    return as_v2(sync, style, world.group_of(sync["id"]))


def v2_run(world: World, run: dict[str, Any], style: str) -> dict[str, Any]:
    return as_v2(run, style, world.group_of(run["sync_id"]))


def sync_path(sync_id: int, style: str) -> str:
    return f"/syncs/{v2_sync_id(sync_id, style)}"


def run_path(run_id: int, style: str) -> str:
    return f"/sync_runs/{v2_run_id(run_id, style)}"


def find_run(world: World, *, group: str | None = None, expired: bool = False, **want: Any) -> int:
    """The first run (by id) of ``group`` whose records satisfy ``want``.

    ``want``: ``at_least`` (records), ``kinds`` (statuses that must all occur).
    """
    for run in world.ground_truth_runs():
        if group is not None and world.group_of(run["sync_id"]) != group:
            continue
        if world.records_expired(run["id"]) != expired:
            continue
        records = world.records_of(run["id"])
        if len(records) < want.get("at_least", 1):
            continue
        if not set(want.get("kinds", ())) <= {record["status"] for record in records}:
            continue
        return int(run["id"])
    raise AssertionError(f"no run with {want} in group {group}")


# --------------------------------------------------------------- v2 documents
def test_v2_lists_every_group_in_each_id_style(
    world: World, styled_sim: CensusSimulator, v2: requests.Session
) -> None:
    style = styled_sim.v2_id_style
    base = styled_sim.base_url_v2
    assert base == styled_sim.root_url + "/api/v2"
    expected = [v2_sync(world, sync, style) for sync in world.syncs]
    assert walk(v2, base + "/syncs", per_page=3, order="asc") == expected
    assert walk(v2, base + "/syncs", per_page=100) == expected[::-1]
    assert {sync["group_id"] for sync in expected} == set(GROUPS)
    for sync in world.syncs:
        served = get(v2, base + sync_path(sync["id"], style))
        assert served == {"status": "success", "data": v2_sync(world, sync, style)}
    long_sync = next(s["id"] for s in world.syncs if len(world.runs_of(s["id"])) == 120)
    runs = [v2_run(world, run, style) for run in world.runs_of(long_sync)]
    url = base + sync_path(long_sync, style) + "/sync_runs"
    assert walk(v2, url, per_page=100, order="asc") == runs
    assert walk(v2, url, per_page=25) == runs[::-1]
    for run in world.runs_of(long_sync)[:3]:
        served = get(v2, base + run_path(run["id"], style))
        assert served == {"status": "success", "data": v2_run(world, run, style)}


@pytest.mark.parametrize(
    ("style", "sync_id", "run_id"),
    [
        ("string", "1000", "100000"),
        ("integer", 1000, 100000),
        ("opaque", "sync_1000", "run_100000"),
    ],
)
def test_id_helpers_and_as_v2(style: str, sync_id: int | str, run_id: int | str) -> None:
    assert v2_sync_id(1000, style) == sync_id
    assert v2_run_id(100000, style) == run_id
    run = {"id": 100000, "sync_id": 1000, "status": "completed"}
    assert as_v2(run, style, "g") == {
        "id": run_id,
        "sync_id": sync_id,
        "status": "completed",
        "group_id": "g",
    }
    assert list(as_v2(run, style, "g")) == ["id", "sync_id", "status", "group_id"]
    assert as_v2({"id": 1000, "label": "x"}, style, "g") == {
        "id": sync_id,
        "label": "x",
        "group_id": "g",
    }
    assert run == {"id": 100000, "sync_id": 1000, "status": "completed"}  # not mutated


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="v2_id_style must be one of string, integer, opaque"):
        v2_sync_id(1, "uuid")
    small = World(seed=1, sync_run_counts=[1])
    with pytest.raises(ValueError, match="v2_id_style"):
        CensusSimulator(small, v2_id_style="uuid")
    with pytest.raises(ValueError, match="records_retention_days"):
        CensusSimulator(small, records_retention_days=-1)
    for groups, message in [
        ([], "at least one"),
        (["a", "a"], "repeated: a"),
        (["a", ""], "non-empty"),
        (" a", "not the string"),
    ]:
        with pytest.raises(ValueError, match=message):
            World(seed=1, sync_run_counts=[1], groups=groups)


def test_path_ids_only_in_the_servers_style(world: World, v2: requests.Session) -> None:
    sync_id = world.syncs[1]["id"]
    run_id = world.runs_of(sync_id)[0]["id"]
    for style in V2_ID_STYLES:
        with CensusSimulator(
            world, token=TOKEN, personal_access_token=PAT, v2_id_style=style
        ) as server:
            base = server.base_url_v2
            good = [sync_path(sync_id, style), run_path(run_id, style)]
            good.append(run_path(run_id, style) + "/records")
            for path in good:
                assert v2.get(base + path, timeout=10).status_code == 200, (style, path)
            other = "string" if style == "opaque" else "opaque"
            bad = [sync_path(sync_id, other), run_path(run_id, other), f"/syncs/{sync_id}x"]
            bad += [f"/sync_runs/sync_{run_id}", run_path(run_id, other) + "/records", "/nowhere"]
            for path in bad:
                response = v2.get(base + path, timeout=10)
                assert (response.status_code, response.json()) == (404, {"status": 404}), path


# -------------------------------------------------------------------- groups
def test_group_filter_and_unknown_group(
    world: World, sim: CensusSimulator, v2: requests.Session
) -> None:
    base = sim.base_url_v2
    for group in GROUPS:
        expected = [v2_sync(world, sync, "string") for sync in in_group(world, group)]
        assert walk(v2, base + "/syncs", per_page=1, order="asc", group_id=group) == expected
    everything = walk(v2, base + "/syncs", per_page=100, group_id="")
    assert len(everything) == len(world.syncs)
    response = v2.get(base + "/syncs", params={"group_id": "no_such_group"}, timeout=10)
    assert (response.status_code, response.json()) == (
        404,
        {"status": 404, "message": "group not found"},
    )
    sync_id = in_group(world, GROUPS[1])[0]["id"]
    url = f"{base}/syncs/{sync_id}/sync_runs"
    ignored = v2.get(url, params={"group_id": "no_such_group"}, timeout=10)
    assert ignored.status_code == 200
    assert ignored.content == v2.get(url, timeout=10).content


def test_v1_sees_only_the_first_group(
    world: World, sim: CensusSimulator, v1: requests.Session
) -> None:
    mine = in_group(world, GROUPS[0])
    assert walk(v1, sim.base_url + "/syncs", per_page=2, order="asc") == mine
    assert all("group_id" not in sync for sync in mine)
    for sync in world.syncs:
        run_ids = [run["id"] for run in world.runs_of(sync["id"])][:1]
        paths = [f"/syncs/{sync['id']}", f"/syncs/{sync['id']}/sync_runs"]
        paths += [f"/sync_runs/{run_id}{tail}" for run_id in run_ids for tail in ("", "/records")]
        visible = world.group_of(sync["id"]) == GROUPS[0]
        for path in paths:
            response = v1.get(sim.base_url + path, timeout=10)
            if visible:
                assert response.status_code == 200, path
            else:
                assert (response.status_code, response.json()) == (404, {"status": 404}), path


def test_groups_are_dealt_round_robin_including_added_syncs() -> None:
    world = World(seed=4, sync_run_counts=[1] * 5, groups=["a", "b"])
    assert world.groups == ("a", "b")
    assert [world.group_of(s["id"]) for s in world.syncs] == ["a", "b", "a", "b", "a"]
    report = world.advance(seconds=600, add_syncs=3, delete_syncs=[1000])
    assert [world.group_of(sync_id) for sync_id in report.added_sync_ids] == ["b", "a", "b"]
    assert world.group_of(1000) == "a"  # deleted syncs keep their group
    with pytest.raises(KeyError):
        world.group_of(999)
    assert World(seed=4).groups == (DEFAULT_GROUP,)


def test_groups_change_no_v1_byte(v1: requests.Session) -> None:
    """groups=None, one explicit group, and the first group of several: identical v1 bytes."""
    bodies: list[list[bytes]] = []
    for groups in (None, ["wandering_aimlessly"]):
        world = World(seed=0, groups=groups)
        with CensusSimulator(world, token=TOKEN, personal_access_token=PAT) as server:
            bodies.append(_v1_bytes(server, v1))
    assert bodies[0] == bodies[1]
    assert len(bodies[0]) > 40

    plain = World(seed=21, sync_run_counts=COUNTS)
    grouped = World(seed=21, sync_run_counts=COUNTS, groups=GROUPS)
    assert grouped.ground_truth_runs() == plain.ground_truth_runs()
    assert grouped.ground_truth_syncs() == plain.ground_truth_syncs()
    for world in (plain, grouped):
        world.advance(seconds=5000, new_runs_per_sync=2, add_syncs=2, delete_syncs=[1001])
    assert grouped.ground_truth_runs() == plain.ground_truth_runs()
    for sync in in_group(grouped, GROUPS[0]):
        assert grouped.sync_json(sync["id"]) == plain.sync_json(sync["id"])


def _v1_bytes(server: CensusSimulator, http: requests.Session) -> list[bytes]:
    bodies: list[bytes] = []

    def fetch(path: str, **params: Any) -> requests.Response:
        response = http.get(server.base_url + path, params=params, timeout=10)
        bodies.append(response.content)
        return response

    syncs = fetch("/syncs", per_page=100).json()["data"]
    fetch("/syncs", per_page=3, page=2, order="asc")
    for sync in syncs:
        fetch(f"/syncs/{sync['id']}")
        page: int | None = 1
        while page is not None:
            body = fetch(f"/syncs/{sync['id']}/sync_runs", page=page, per_page=100).json()
            page = body["pagination"]["next_page"]
        for run in body["data"][:2]:
            fetch(f"/sync_runs/{run['id']}")
            fetch(f"/sync_runs/{run['id']}/records", per_page=100)
    return bodies


# ------------------------------------------------------------------ tokens
@pytest.mark.parametrize(
    ("prefix", "header", "status", "body"),
    [
        ("/api/v1", f"Bearer {TOKEN}", 200, None),
        ("/api/v1", f"Bearer {PAT}", 401, V1_NEEDS_TOKEN),
        ("/api/v1", "Bearer nope", 401, UNAUTHORIZED),
        ("/api/v1", None, 401, UNAUTHORIZED),
        ("/api/v2", f"Bearer {PAT}", 200, None),
        ("/api/v2", f"Bearer {TOKEN}", 401, V2_NEEDS_PAT),
        ("/api/v2", PAT, 401, UNAUTHORIZED),
        ("/api/v2", None, 401, UNAUTHORIZED),
    ],
)
def test_token_kinds_per_version(
    world: World,
    sim: CensusSimulator,
    prefix: str,
    header: str | None,
    status: int,
    body: dict[str, str] | None,
) -> None:
    run_id = world.runs_of(in_group(world, GROUPS[0])[0]["id"])[0]["id"]
    headers = {} if header is None else {"Authorization": header}
    sim.reset_log()
    paths = ["/syncs", f"/sync_runs/{run_id}", f"/sync_runs/{run_id}/records"]
    for path in paths:
        response = requests.get(sim.root_url + prefix + path, headers=headers, timeout=10)
        assert response.status_code == status, path
        if body is not None:
            assert response.json() == body
    log = sim.requests
    assert [(e.path, e.status, e.authorized) for e in log] == [
        (prefix + path, status, status == 200) for path in paths
    ]
    text = repr(log)
    assert TOKEN not in text and PAT not in text


def test_outside_both_versions(sim: CensusSimulator) -> None:
    for header, status in ((TOKEN, 404), (PAT, 401)):
        response = requests.get(
            sim.root_url + "/api/v3/syncs",
            headers={"Authorization": f"Bearer {header}"},
            timeout=10,
        )
        assert response.status_code == status


# ----------------------------------------------------------------- records
def test_records_paging_matches_ground_truth(
    world: World, sim: CensusSimulator, v1: requests.Session, v2: requests.Session
) -> None:
    run_id = find_run(world, group=GROUPS[0], at_least=RECORDS_PER_STATUS_CAP + 1)
    truth = world.records_of(run_id)
    assert len(truth) > 150
    v1_url = f"{sim.base_url}/sync_runs/{run_id}/records"
    assert walk(v1, v1_url, per_page=100) == truth
    assert walk(v1, v1_url, per_page=7) == truth
    v2_url = f"{sim.base_url_v2}/sync_runs/{run_id}/records"
    assert v2.get(v2_url, params={"per_page": 100}, timeout=10).content == (
        v1.get(v1_url, params={"per_page": 100}, timeout=10).content
    )
    assert get(v1, v1_url)["pagination"]["per_page"] == 25
    assert get(v1, v1_url)["data"] == truth[:25]
    assert get(v1, v1_url, per_page=1000)["pagination"]["per_page"] == 100
    assert get(v1, v1_url, per_page=0)["pagination"]["per_page"] == 25
    assert get(v1, v1_url, page=0)["pagination"]["page"] == 1
    assert get(v1, v1_url, order="sideways")["data"] == truth[:25]  # not a records parameter
    past = get(v1, v1_url, page=99, per_page=100)
    assert past["data"] == [] and past["pagination"]["next_page"] is None


def test_records_filters(world: World, sim: CensusSimulator, v2: requests.Session) -> None:
    run_id = find_run(world, kinds=("succeeded", "rejected", "invalid", "NULL", "DUPLICATE"))
    url = f"{sim.base_url_v2}/sync_runs/{run_id}/records"
    everything = world.records_of(run_id)
    statuses = {
        "succeeded": {"succeeded"},
        "rejected": {"rejected"},
        "invalid": {"invalid", "NULL", "DUPLICATE"},
    }
    for status, kinds in statuses.items():
        served = walk(v2, url, per_page=100, status=status)
        assert served == [record for record in everything if record["status"] in kinds]
        assert served == world.records_of(run_id, status=status)
        for operation in ("upsert", "delete"):
            expected = world.records_of(run_id, status=status, operation=operation)
            assert walk(v2, url, per_page=100, status=status, operation=operation) == expected
            assert all(r["operation"] == operation and r["status"] in kinds for r in expected)
    assert {r["status"] for r in world.records_of(run_id, status="invalid")} == statuses["invalid"]
    per_identifier = Counter(r["identifier"] for r in everything)
    duplicate = max(
        (r["identifier"] for r in everything if r["status"] == "DUPLICATE"),
        key=lambda identifier: per_identifier[identifier],
    )
    matches = walk(v2, url, per_page=100, primary_identifier=duplicate)
    assert matches == [r for r in everything if r["identifier"] == duplicate]
    assert len(matches) >= 2
    assert matches == world.records_of(run_id, primary_identifier=duplicate)
    assert get(v2, url, primary_identifier="nobody@nowhere")["data"] == []
    assert get(v2, url, status="")["pagination"]["total_records"] == len(everything)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "NULL"},
        {"status": "Succeeded"},
        {"status": "failed"},
        {"operation": "insert"},
        {"page": "two"},
        {"per_page": "1.5"},
    ],
)
def test_records_bad_params_are_400(
    world: World, sim: CensusSimulator, v1: requests.Session, params: dict[str, str]
) -> None:
    run_id = world.runs_of(in_group(world, GROUPS[0])[0]["id"])[0]["id"]
    for url in (
        f"{sim.base_url}/sync_runs/{run_id}/records",
        f"{sim.base_url}/sync_runs/1/records",
    ):
        response = v1.get(url, params=params, timeout=10)
        assert response.status_code == 400
        body = response.json()
        assert body["status"] == "error" and next(iter(params)) in body["message"]
    with pytest.raises(ValueError, match="status must be one of succeeded, rejected, invalid"):
        world.records_of(run_id, status="NULL")


def test_records_410_after_retention(
    world: World, styled_sim: CensusSimulator, v2: requests.Session
) -> None:
    style = styled_sim.v2_id_style
    long_sync = next(s["id"] for s in world.syncs if len(world.runs_of(s["id"])) == 450)
    expired = [
        run["id"] for run in world.runs_of(long_sync) if styled_sim.records_expired(run["id"])
    ]
    assert 0 < len(expired) < 450
    cutoff_us = to_us(world.now - timedelta(days=14))
    for run in world.runs_of(long_sync)[len(expired) - 2 : len(expired) + 2]:
        path = run_path(run["id"], style) + "/records"
        response = v2.get(styled_sim.base_url_v2 + path, timeout=10)
        stamp = run["completed_at"] or run["created_at"]
        if run["id"] in expired:
            assert parse_us(stamp) < cutoff_us
            assert (response.status_code, response.json()) == (
                410,
                {
                    "status": 410,
                    "message": f"Records of sync run {v2_run_id(run['id'], style)} "
                    "are no longer available",
                },
            )
        else:
            assert response.status_code == 200
            assert response.json()["data"] == world.records_of(run["id"])[:25]


def test_records_retention_boundary_and_null_completed_at(fresh: CensusSimulator) -> None:
    world = fresh.world
    fresh.records_retention_days = 1.0
    sync_id = world.syncs[0]["id"]
    run_id = world.runs_of(sync_id)[-1]["id"]
    url = f"{fresh.base_url}/sync_runs/{run_id}/records"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    day = timedelta(days=1)
    cases: list[tuple[dict[str, Any], int]] = [
        ({"completed_at": world.now - day}, 200),
        ({"completed_at": world.now - day - timedelta(milliseconds=1)}, 410),
        ({"completed_at": None, "created_at": world.now - day}, 200),
        ({"completed_at": None, "created_at": world.now - 2 * day}, 410),
    ]
    for fields, status in cases:
        world.update_run(run_id, status="completed", **fields)
        assert fresh.records_expired(run_id) == (status == 410)
        assert requests.get(url, headers=headers, timeout=10).status_code == status, fields
    assert not world.records_expired(run_id, retention_days=3.0)


def test_records_of_open_runs_are_empty_until_they_finish(fresh: CensusSimulator) -> None:
    world = fresh.world
    sync_id = world.syncs[2]["id"]
    run = world.add_run(sync_id, status="working")
    path = f"/sync_runs/run_{run['id']}/records"
    headers = {"Authorization": f"Bearer {PAT}"}
    body = requests.get(fresh.base_url_v2 + path, headers=headers, timeout=10).json()
    assert body["data"] == [] and body["pagination"]["total_records"] == 0
    assert world.records_of(run["id"]) == []
    world.update_run(
        run["id"], status="completed", completed_at=world.now, records_updated=500, records_failed=3
    )
    truth = world.records_of(run["id"])
    assert Counter(r["status"] for r in truth) == {"succeeded": 150, "rejected": 3}
    served = requests.get(
        fresh.base_url_v2 + path, params={"per_page": 100}, headers=headers, timeout=10
    )
    assert served.json()["data"] == truth[:100]
    skipped = world.add_run(sync_id, status="skipped")
    assert world.records_of(skipped["id"]) == []


def test_records_not_found(fresh: CensusSimulator) -> None:
    world = fresh.world
    visible, hidden = world.syncs[0]["id"], world.syncs[1]["id"]
    assert (world.group_of(visible), world.group_of(hidden)) == ("alpha", "beta")
    hidden_run = world.runs_of(hidden)[0]["id"]
    doomed_run = world.runs_of(visible)[0]["id"]
    doomed_records = world.records_of(doomed_run)
    assert doomed_records
    world.delete_sync(visible)
    v1_paths = [f"/sync_runs/{run}/records" for run in (1, 99_999_999, hidden_run, doomed_run)]
    v1_paths.append("/sync_runs/abc/records")
    v2_paths = [f"/sync_runs/run_{run}/records" for run in (1, doomed_run)]
    v2_paths.append(f"/sync_runs/{hidden_run}/records")  # not in the opaque style
    for base, token, paths in (
        (fresh.base_url, TOKEN, v1_paths),
        (fresh.base_url_v2, PAT, v2_paths),
    ):
        for path in paths:
            response = requests.get(
                base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            assert (response.status_code, response.json()) == (404, {"status": 404}), path
    visible_on_v2 = requests.get(
        f"{fresh.base_url_v2}/sync_runs/run_{hidden_run}/records",
        headers={"Authorization": f"Bearer {PAT}"},
        timeout=10,
    )
    assert visible_on_v2.status_code == 200
    assert world.records_of(doomed_run) == doomed_records  # the ground truth keeps them
    with pytest.raises(KeyError):
        world.records_of(1)


def test_records_are_deterministic(
    world: World, sim: CensusSimulator, v2: requests.Session
) -> None:
    sample = [run["id"] for run in world.ground_truth_runs()[::37]]
    twin = World(seed=21, sync_run_counts=COUNTS)  # other groups, same seed
    other = World(seed=22, sync_run_counts=COUNTS)
    assert [world.records_of(r) for r in sample] == [twin.records_of(r) for r in sample]
    assert [world.records_of(r) for r in sample] != [other.records_of(r) for r in sample]
    run_id = find_run(world, at_least=100)
    url = f"{sim.base_url_v2}/sync_runs/{run_id}/records"
    first = v2.get(url, params={"per_page": 100}, timeout=10).content
    assert v2.get(url, params={"per_page": 100}, timeout=10).content == first
    with CensusSimulator(twin, token=TOKEN, personal_access_token=PAT) as again:
        assert (
            v2.get(
                f"{again.base_url_v2}/sync_runs/{run_id}/records",
                params={"per_page": 100},
                timeout=10,
            ).content
            == first
        )


def test_records_are_realistic(world: World) -> None:
    runs = world.ground_truth_runs()
    kinds: Counter[str] = Counter()
    seen = Counter[str]()
    for run in runs:
        records = world.records_of(run["id"])
        if run["status"] not in ("completed", "failed", "skipped"):
            assert records == []
            continue
        by_status = Counter(r["status"] for r in records)
        kinds.update(by_status)
        cap = RECORDS_PER_STATUS_CAP
        assert by_status["succeeded"] == min(run["records_updated"] or 0, cap)
        assert by_status["rejected"] == min(run["records_failed"] or 0, cap)
        invalid = by_status["invalid"] + by_status["NULL"] + by_status["DUPLICATE"]
        assert invalid == min(run["records_invalid"] or 0, cap)
        encoded = [json.dumps(r, ensure_ascii=False) for r in records]  # as served, key order kept
        seen["identical duplicates"] += sum(
            a == b and r["status"] == "DUPLICATE"
            for (a, b), r in zip(itertools.pairwise(encoded), records, strict=False)
        )
        for record in records:
            assert list(record) == [
                "record_payload",
                "identifier",
                "batch_started_at",
                "batch_completed_at",
                "operation",
                "status",
                "status_message",
            ]
            started, completed = (
                parse_us(record[k]) for k in ("batch_started_at", "batch_completed_at")
            )
            assert parse_us(run["created_at"]) <= started <= completed
            assert (record["identifier"] is None) == (record["status"] == "NULL")
            assert (record["status_message"] is None) == (record["status"] == "succeeded")
            payload = record["record_payload"]
            seen[record["operation"]] += 1
            seen["nested"] += any(isinstance(v, dict) for v in payload.values())
            seen["null value"] += None in payload.values()
            seen["unicode"] += not json.dumps(payload, ensure_ascii=False).isascii()
            seen["unicode message"] += not (record["status_message"] or "").isascii()
    assert all(kinds[k] > 0 for k in ("succeeded", "rejected", "invalid", "NULL", "DUPLICATE"))
    assert all(seen[k] > 0 for k in ("upsert", "delete", "nested", "null value", "unicode"))
    assert seen["identical duplicates"] > 0 and seen["unicode message"] > 0
    payload_keys = {
        sync["id"]: {
            key
            for run in world.runs_of(sync["id"])
            for r in world.records_of(run["id"])
            for key in r["record_payload"]
        }
        for sync in world.syncs
    }
    assert len({frozenset(keys) for keys in payload_keys.values() if keys}) > 3  # varies per sync


# ------------------------------------------------------------------ faults
def test_faults_apply_on_v2_paths(fresh: CensusSimulator) -> None:
    world = fresh.world
    sync_id = next(s["id"] for s in world.syncs if len(world.runs_of(s["id"])) == 10)
    headers = {"Authorization": f"Bearer {PAT}"}
    base = fresh.base_url_v2

    fresh.faults = FaultPlan(seed=1, rate=1.0, kinds=[f.STATUS_503], only_paths=r"^/api/v2/syncs$")
    assert requests.get(base + "/syncs", headers=headers, timeout=10).status_code == 503
    assert (
        requests.get(f"{base}/syncs/sync_{sync_id}", headers=headers, timeout=10).status_code == 200
    )

    fresh.faults = FaultPlan(seed=1, rate=1.0, kinds=[f.INSERT_RUNS])
    body = requests.get(
        f"{base}/syncs/sync_{sync_id}/sync_runs", headers=headers, timeout=10
    ).json()
    assert 11 <= len(world.runs_of(sync_id)) <= 13
    assert body["pagination"]["total_records"] == len(world.runs_of(sync_id))
    assert body["data"][0] == as_v2(world.runs_of(sync_id)[-1], "opaque", world.group_of(sync_id))

    run = world.add_run(sync_id, status="working", records_updated=40, records_failed=2)
    fresh.faults = FaultPlan(seed=1, rate=1.0, kinds=[f.CHANGE_STATUS])
    records = requests.get(f"{base}/sync_runs/run_{run['id']}/records", headers=headers, timeout=10)
    finished = world.run(run["id"])
    assert finished is not None and finished["status"] in ("completed", "failed")
    assert records.json()["data"] == world.records_of(run["id"])[:25] != []
    assert fresh.faults.injected == Counter({f.CHANGE_STATUS: 1})

    fresh.faults = FaultPlan(seed=1, rate=1.0, kinds=[f.DELETE_SYNC])
    gone = requests.get(f"{base}/syncs/sync_{sync_id}", headers=headers, timeout=10)
    assert (gone.status_code, world.sync(sync_id)) == (404, None)
    log = fresh.requests
    assert [e.fault for e in log] == [
        f.STATUS_503,
        None,
        f.INSERT_RUNS,
        f.CHANGE_STATUS,
        f.DELETE_SYNC,
    ]
    assert all(e.authorized and e.path.startswith("/api/v2/") for e in log)


def test_mutating_faults_touch_only_what_the_version_sees(fresh: CensusSimulator) -> None:
    world = fresh.world
    hidden = next(s["id"] for s in world.syncs if world.group_of(s["id"]) == "beta")
    before = world.ground_truth_runs()
    fresh.faults = plan = FaultPlan(
        seed=1, rate=1.0, kinds=[f.INSERT_RUNS, f.DELETE_SYNC, f.CHANGE_STATUS]
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for path in (f"/syncs/{hidden}/sync_runs", f"/syncs/{hidden}"):
        assert requests.get(fresh.base_url + path, headers=headers, timeout=10).status_code == 404
    pat = {"Authorization": f"Bearer {PAT}"}
    for path in (f"/syncs/{hidden}/sync_runs", f"/sync_runs/{before[0]['id']}"):  # not opaque ids
        assert requests.get(fresh.base_url_v2 + path, headers=pat, timeout=10).status_code == 404
    assert world.ground_truth_runs() == before and world.sync(hidden) is not None
    assert plan.injected == Counter()


def test_latency_applies_to_v2(fresh: CensusSimulator) -> None:
    fresh.latency = 0.2
    began = time.monotonic()
    response = requests.get(
        fresh.base_url_v2 + "/syncs", headers={"Authorization": f"Bearer {PAT}"}, timeout=10
    )
    assert response.status_code == 200 and time.monotonic() - began >= 0.2


# ------------------------------------------------------------- speed, CLI
def test_v2_pages_of_a_10k_run_world_are_fast(v2: requests.Session) -> None:
    big = World(seed=9, sync_run_counts=[10_000, 3], groups=GROUPS[:2])
    with CensusSimulator(big, token=TOKEN, personal_access_token=PAT) as server:
        url = f"{server.base_url_v2}/syncs/1000/sync_runs"
        v2.get(url, timeout=10)  # warm the connection
        times = []
        for page in range(1, 101, 5):
            began = time.perf_counter()
            response = v2.get(url, params={"page": page, "per_page": 100}, timeout=10)
            times.append(time.perf_counter() - began)
            assert response.status_code == 200 and len(response.json()["data"]) == 100
    assert statistics.median(times) < 0.05, times


def test_command_line_v2_options() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "census_simulator", "--port", "0", "--token", TOKEN),
            *("--personal-access-token", PAT, "--groups", "north,south"),
            *("--v2-id-style", "opaque", "--records-retention-days", "0.5"),
            *("--syncs", "3", "--runs-per-sync", "40", "--seed", "2"),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        base_url_v2 = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", base_url)
        assert base_url_v2 == base_url[: -len("v1")] + "v2"
        pat = {"Authorization": f"Bearer {PAT}"}
        body = requests.get(
            base_url_v2 + "/syncs", params={"group_id": "south"}, headers=pat, timeout=10
        ).json()
        assert [(s["id"], s["group_id"]) for s in body["data"]] == [("sync_1001", "south")]
        v1_total = requests.get(
            base_url + "/syncs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert v1_total.json()["pagination"]["total_records"] == 2  # syncs 1000 and 1002: north
        oldest = requests.get(
            f"{base_url_v2}/syncs/sync_1001/sync_runs",
            params={"order": "asc"},
            headers=pat,
            timeout=10,
        ).json()["data"][0]
        assert (
            requests.get(
                f"{base_url_v2}/sync_runs/{oldest['id']}/records", headers=pat, timeout=10
            ).status_code
            == 410
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ------------------------------------------------- variants of what is unpublished
def test_variant_moved_paths_serve_the_same_documents_and_drop_the_old_ones(
    world: World, v2: requests.Session
) -> None:
    from census_simulator.v2 import MOVED_V2_PATHS, V2Variant

    variant = V2Variant(paths=MOVED_V2_PATHS)
    with (
        CensusSimulator(world, personal_access_token=PAT, v2_variant=variant) as moved,
        CensusSimulator(world, personal_access_token=PAT) as plain,
    ):
        long_sync = next(s["id"] for s in world.syncs if len(world.runs_of(s["id"])) == 120)
        run_id = world.runs_of(long_sync)[0]["id"]
        pairs = [
            ("/activation_syncs", "/syncs"),
            (f"/activation_syncs/{long_sync}", f"/syncs/{long_sync}"),
            (f"/activation_syncs/{long_sync}/runs", f"/syncs/{long_sync}/sync_runs"),
            (f"/activation_sync_runs/{run_id}", f"/sync_runs/{run_id}"),
            (f"/activation_sync_runs/{run_id}/records", f"/sync_runs/{run_id}/records"),
        ]
        for new, old in pairs:
            assert get(v2, moved.base_url_v2 + new) == get(v2, plain.base_url_v2 + old)
            assert v2.get(moved.base_url_v2 + old, timeout=10).status_code == 404


def test_variant_group_id_required_on_every_v2_request(world: World, v2: requests.Session) -> None:
    from census_simulator.v2 import V2Variant

    variant = V2Variant(requires_group_id=True)
    with CensusSimulator(world, personal_access_token=PAT, v2_variant=variant) as strict:
        base = strict.base_url_v2
        sync = in_group(world, GROUPS[1])[0]["id"]
        run_id = world.runs_of(sync)[0]["id"]
        for path in ("/syncs", f"/syncs/{sync}/sync_runs", f"/sync_runs/{run_id}"):
            missing = v2.get(base + path, timeout=10)
            assert missing.status_code == 400
            assert missing.json()["message"] == "param is missing or the value is empty: group_id"
            assert get(v2, base + path, group_id=GROUPS[1])["status"] == "success"
            other = v2.get(base + path, params={"group_id": GROUPS[0]}, timeout=10)
            assert other.status_code == (200 if path == "/syncs" else 404)
            unknown = v2.get(base + path, params={"group_id": "nowhere"}, timeout=10)
            assert unknown.status_code == 404 and unknown.json()["message"] == "group not found"


@pytest.mark.parametrize("status", [410, 404, 401])
def test_switch_v1_retired_answers_every_v1_request(
    world: World, v1: requests.Session, status: int
) -> None:
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PAT, v1_retired_status=status
    ) as retired:
        for path in ("/syncs", "/sync_runs/1", "/nowhere"):
            response = v1.get(retired.base_url + path, timeout=10)
            assert response.status_code == status
            assert "v1 was retired on 2027-01-15" in response.json()["message"]
            assert ("Sunset" in response.headers) is (status == 410)
        assert retired.authorize("/api/v2/syncs", f"Bearer {PAT}") is None  # v2 still serves


def test_switch_foreign_tokens_are_refused_naming_their_host(world: World) -> None:
    with CensusSimulator(
        world, personal_access_token=PAT, foreign_tokens={"eu-pat": "app-eu.getcensus.com"}
    ) as us:
        response = requests.get(
            us.base_url_v2 + "/syncs", headers={"Authorization": "Bearer eu-pat"}, timeout=10
        )
    assert response.status_code == 401
    assert "belongs to app-eu.getcensus.com" in response.json()["message"]
