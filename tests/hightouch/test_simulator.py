"""The simulator itself: envelopes, paging, filters, auth, rate limit, clock and faults."""

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from census_source.timestamps import parse_timestamp
from hightouch_simulator import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    FaultPlan,
    HightouchSimulator,
    World,
)
from tests.hightouch.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def get(simulator: HightouchSimulator) -> Iterator[Any]:
    with requests.Session() as session:

        def call(path: str, headers: dict[str, str] = AUTH, **params: Any) -> requests.Response:
            return session.get(simulator.base_url + path, params=params, headers=headers)

        yield call


def test_runs_page_with_limit_offset_and_has_more(world: World, get: Any) -> None:
    sync_id = world.syncs[5]["id"]
    runs = world.runs_of(sync_id) or []
    assert len(runs) == 450
    first = get(f"/api/v1/syncs/{sync_id}/runs").json()
    assert [r["id"] for r in first["data"]] == [str(r["id"]) for r in runs[:5]]  # default limit 5
    assert first["hasMore"] is True
    last = get(f"/api/v1/syncs/{sync_id}/runs", limit=500, offset=400).json()
    assert [r["id"] for r in last["data"]] == [str(r["id"]) for r in runs[400:]]  # capped at 100
    assert last["hasMore"] is False
    exact = get(f"/api/v1/syncs/{sync_id}/runs", limit=50, offset=400).json()
    assert len(exact["data"]) == 50 and exact["hasMore"] is False


def test_after_and_before_compare_started_at_strictly(world: World, get: Any) -> None:
    sync_id = world.syncs[4]["id"]
    runs = world.runs_of(sync_id) or []
    after, before = runs[10]["startedAt"], runs[20]["startedAt"]
    page = get(f"/api/v1/syncs/{sync_id}/runs", limit=100, after=after, before=before).json()
    assert [r["id"] for r in page["data"]] == [str(r["id"]) for r in runs[11:20]]
    one = get(f"/api/v1/syncs/{sync_id}/runs", runId=runs[3]["id"]).json()
    assert one == {"data": [{**runs[3], "id": str(runs[3]["id"])}], "hasMore": False}


def test_syncs_list_and_errors(world: World, get: Any) -> None:
    listed = get("/api/v1/syncs").json()
    assert listed == {"data": world.syncs, "hasMore": False}
    assert all(isinstance(sync["id"], str) for sync in listed["data"])
    assert get("/api/v1/syncs", headers={}).status_code == 401
    assert get("/api/v1/syncs", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert get("/api/v1/syncs/999999/runs").status_code == 404
    assert get("/api/v1/syncs", limit="ten").status_code == 400
    assert get(f"/api/v1/syncs/{world.syncs[1]['id']}/runs", after="soon").status_code == 400


def test_the_rate_limit_answers_429_with_retry_after(world: World) -> None:
    with HightouchSimulator(world, token=TOKEN, rate_limit=(3, 5.0)) as sim:
        answers = [requests.get(sim.base_url + "/api/v1/syncs", headers=AUTH) for _ in range(4)]
        log = sim.requests
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 5
    assert [entry.throttled for entry in log] == [False, False, False, True]


def test_advance_finishes_open_runs_and_adds_new_ones(world: World) -> None:
    open_ids = world.open_run_ids()
    waiting = ("pending", "queued")
    queued = {i: world.run(i)["startedAt"] for i in open_ids if world.run(i)["status"] in waiting}  # type: ignore[index]
    assert open_ids and queued
    old_now = world.now

    report = world.advance(seconds=3600, new_runs_per_sync=2)

    assert sorted(report.finished_run_ids) == sorted(open_ids)
    for run_id in open_ids:
        run = world.run(run_id) or {}
        assert run["status"] in TERMINAL_STATUSES and run["finishedAt"] is not None
    for run_id, started in queued.items():
        assert parse_timestamp(world.run(run_id)["startedAt"]) > parse_timestamp(started)  # type: ignore[index]
    new = [world.run(run_id) or {} for run_id in report.new_run_ids]
    assert len(new) == 2 * len(world.syncs)
    assert all(old_now < parse_timestamp(run["createdAt"]) <= world.now for run in new)
    assert report.new_run_ids == sorted(report.new_run_ids)
    assert {run["status"] for run in new} <= set(OPEN_STATUSES) | set(TERMINAL_STATUSES)


def test_fault_plans_are_reproducible(world: World) -> None:
    def faults(seed: int) -> list[str | None]:
        plan = FaultPlan(seed=seed, rate=0.5, kinds=["500", "429", "html"])
        paths = [f"/api/v1/syncs/{s['id']}/runs" for s in world.syncs] * 3
        return [
            None if (fault := plan.decide("GET", path, {}, world)) is None else fault.kind
            for path in paths
        ]

    assert faults(7) == faults(7)
    assert faults(7) != faults(8)
    assert {kind for kind in faults(7) if kind} == {"500", "429", "html"}


def test_it_runs_standalone() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hightouch_simulator", "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        answer = requests.get(base_url + "/api/v1/syncs", headers=AUTH, timeout=10)
        assert answer.status_code == 200 and len(answer.json()["data"]) == 8
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_the_world_holds_pending_and_aborted_runs(world: World) -> None:
    statuses = {run["status"] for run in world.ground_truth_runs()}
    assert {"pending", "aborted"} <= statuses
    assert "pending" in OPEN_STATUSES and "aborted" in TERMINAL_STATUSES
    for run in world.ground_truth_runs():
        if run["status"] == "pending":
            assert run["startedAt"] == run["createdAt"] and run["finishedAt"] is None
        if run["status"] == "aborted":
            assert run["finishedAt"] is not None and run["error"]


def test_quirks_switch_the_documented_answers(world: World, simulator: HightouchSimulator) -> None:
    from hightouch_simulator import ApiQuirks

    sync_id = world.syncs[5]["id"]
    runs = world.runs_of(sync_id) or []
    path = f"{simulator.base_url}/api/v1/syncs/{sync_id}/runs"

    def page(quirks: ApiQuirks, **params: Any) -> dict[str, Any]:
        simulator.quirks = quirks
        answer: dict[str, Any] = requests.get(path, params=params, headers=AUTH, timeout=10).json()
        return answer

    documented = page(ApiQuirks(), limit=100, offset=100)
    assert [r["id"] for r in documented["data"]] == [str(r["id"]) for r in runs[100:200]]
    assert page(ApiQuirks(numeric_run_ids=True), limit=1)["data"][0]["id"] == runs[0]["id"]
    assert page(ApiQuirks(omit_has_more=True), limit=1).keys() == {"data"}
    capped = page(ApiQuirks(max_limit=30), limit=100, offset=420)
    assert len(capped["data"]) == 30 and capped["hasMore"] is False
    ignored = page(ApiQuirks(ignore_offset="/runs"), limit=10, offset=440)
    assert [r["id"] for r in ignored["data"]] == [str(r["id"]) for r in runs[:10]]
    assert ignored["hasMore"] is True
    scrambled = page(ApiQuirks(unsorted_runs=True), limit=100)["data"]
    assert [r["id"] for r in scrambled] != sorted(r["id"] for r in scrambled)
    doubled = [int(r["id"]) for r in page(ApiQuirks(duplicate_runs=True), limit=100)["data"]]
    assert len(doubled) == 100 and len(set(doubled)) < 100
    assert all(doubled.count(i) == (2 if i % 7 == 0 else 1) for i in doubled[:-1])
