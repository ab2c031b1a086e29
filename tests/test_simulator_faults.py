"""Fault injection in the simulator over real HTTP: symptoms, determinism, rate, caps, paths."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from census_simulator import (
    ALL_FAULTS,
    DESTRUCTIVE_FAULTS,
    CensusSimulator,
    Fault,
    FaultPlan,
    RequestLogEntry,
    Response,
    World,
)
from census_simulator import faults as f

TOKEN = "sim-fault-token-81c0"
REPO_ROOT = Path(__file__).resolve().parent.parent
OPEN = ("queued", "working", "cancelling")
ALLOWED_MOVES = {
    ("queued", "working"),
    ("working", "completed"),
    ("working", "failed"),
    ("cancelling", "failed"),
}
CHEAP = (f.STATUS_500, f.STATUS_503, f.STATUS_429, f.HTML, f.EMPTY, f.TRUNCATED)
"""Kinds that need no sleeping, world or reconnect: for the many-request tests."""


@pytest.fixture
def world() -> World:
    return World(seed=5, sync_run_counts=(3, 10, 120, 0))


@pytest.fixture
def sim(world: World) -> Iterator[CensusSimulator]:
    with CensusSimulator(world, token=TOKEN) as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        yield session


def sync_with_runs(world: World, count: int) -> int:
    return next(int(s["id"]) for s in world.syncs if len(world.runs_of(s["id"])) == count)


def runs_url(sim: CensusSimulator, sync_id: int) -> str:
    return f"{sim.base_url}/syncs/{sync_id}/sync_runs"


def only(kind: str, **options: Any) -> FaultPlan:
    """A plan that faults every request with ``kind``."""
    return FaultPlan(seed=1, rate=1.0, kinds=[kind], **options)


def fault_log(sim: CensusSimulator) -> list[tuple[str, str | None]]:
    return [(f"{e.path}?{e.query.get('page', '')}", e.fault) for e in sim.requests]


def is_good(response: requests.Response) -> bool:
    """A complete, well-formed success page: what a careful client accepts."""
    try:
        return response.status_code == 200 and response.json()["status"] == "success"
    except (ValueError, KeyError, TypeError):
        return False


def truth(world: World) -> dict[int, dict[str, Any]]:
    return {run["id"]: run for run in world.ground_truth_runs()}


# ------------------------------------------------------------ symptoms
@pytest.mark.parametrize(
    ("kind", "status", "content_type", "retry_after"),
    [
        (f.STATUS_500, 500, "application/json", None),
        (f.STATUS_502, 502, "text/html", None),
        (f.STATUS_503, 503, "application/json", None),
        (f.STATUS_504, 504, "text/html", None),
        (f.STATUS_429, 429, "application/json", "1"),
        (f.STATUS_429_NO_RETRY_AFTER, 429, "application/json", None),
    ],
)
def test_status_faults(
    sim: CensusSimulator,
    http: requests.Session,
    kind: str,
    status: int,
    content_type: str,
    retry_after: str | None,
) -> None:
    sim.faults = plan = only(kind)
    response = http.get(sim.base_url + "/syncs", timeout=5)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    assert response.headers.get("Retry-After") == retry_after
    assert 0 < len(response.content) < 200
    if content_type == "application/json":
        assert response.json()["status"] == "error"
    else:
        assert response.text.startswith("<html>")
    [entry] = sim.requests
    assert (entry.status, entry.fault) == (status, kind)
    assert plan.injected == Counter({kind: 1})


def test_reset_cuts_the_body_after_full_headers(
    sim: CensusSimulator, http: requests.Session
) -> None:
    sync_id = sync_with_runs(sim.world, 120)
    full = http.get(runs_url(sim, sync_id), params={"per_page": 100}, timeout=5).content
    sim.faults = only(f.RESET)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        http.get(runs_url(sim, sync_id), params={"per_page": 100}, timeout=5)

    request = (
        f"GET /api/v1/syncs/{sync_id}/sync_runs?per_page=100 HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    received = b""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        raw.sendall(request.encode())
        try:
            while chunk := raw.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert f"Content-Length: {len(full)}".encode() in head
    assert 0 < len(body) < len(full) and full.startswith(body)
    assert [(e.status, e.fault) for e in sim.requests] == [(200, None), (0, "reset"), (0, "reset")]

    sim.faults = None  # the same session reconnects and works again
    assert http.get(runs_url(sim, sync_id), timeout=5).status_code == 200


def test_slow_times_out_a_short_read_timeout(sim: CensusSimulator, http: requests.Session) -> None:
    sim.faults = only(f.SLOW, slow_seconds=0.6)
    with pytest.raises(requests.Timeout):
        http.get(sim.base_url + "/syncs", timeout=(5, 0.15))
    began = time.monotonic()
    response = http.get(sim.base_url + "/syncs", timeout=5)  # patient clients get the answer
    assert time.monotonic() - began >= 0.6
    assert response.status_code == 200 and response.json()["status"] == "success"
    assert [e.fault for e in sim.requests] == [f.SLOW, f.SLOW]


def test_truncated_is_a_200_with_half_the_real_body(
    sim: CensusSimulator, http: requests.Session
) -> None:
    full = http.get(sim.base_url + "/syncs", timeout=5).content
    sim.faults = only(f.TRUNCATED)
    response = http.get(sim.base_url + "/syncs", timeout=5)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content) == len(full) // 2
    assert full.startswith(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_html_and_empty_bodies(sim: CensusSimulator, http: requests.Session) -> None:
    sim.faults = only(f.HTML)
    page = http.get(sim.base_url + "/syncs", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text.startswith("<!DOCTYPE html>")
    sim.faults = only(f.EMPTY)
    empty = http.get(sim.base_url + "/syncs", timeout=5)
    assert (empty.status_code, empty.content, empty.headers["Content-Length"]) == (200, b"", "0")
    assert [(e.status, e.fault) for e in sim.requests] == [(200, f.HTML), (200, f.EMPTY)]


# ------------------------------------------------------ world mutations
def test_insert_runs_adds_runs_before_the_page_is_served(
    sim: CensusSimulator, http: requests.Session
) -> None:
    world = sim.world
    sync_id = sync_with_runs(world, 10)
    before = truth(world)
    sim.faults = plan = only(f.INSERT_RUNS)
    body = http.get(runs_url(sim, sync_id), timeout=5).json()
    added = sorted(set(truth(world)) - set(before))
    assert 1 <= len(added) <= 3
    assert {truth(world)[run_id]["sync_id"] for run_id in added} == {sync_id}
    assert body["pagination"]["total_records"] == 10 + len(added)
    assert sorted(run["id"] for run in body["data"][: len(added)]) == added  # newest first

    assert http.get(sim.base_url + "/syncs", timeout=5).status_code == 200  # no-op elsewhere
    assert [e.fault for e in sim.requests] == [f.INSERT_RUNS, None]
    assert plan.injected == Counter({f.INSERT_RUNS: 1})


def test_change_status_moves_open_runs_on_until_none_is_left(
    sim: CensusSimulator, http: requests.Session
) -> None:
    world = sim.world
    sync_id = sync_with_runs(world, 3)
    for status in OPEN:
        world.add_run(sync_id, status=status)
    opened = {r["id"]: r["status"] for r in world.runs_of(sync_id) if r["status"] in OPEN}
    sim.faults = plan = only(f.CHANGE_STATUS)
    transitions: list[tuple[str, str]] = []
    for _ in range(20):
        before = truth(world)
        response = http.get(runs_url(sim, sync_id), timeout=5)
        after = truth(world)
        changed = [run_id for run_id in after if after[run_id] != before[run_id]]
        if not changed:
            break
        [run_id] = changed
        transitions.append((before[run_id]["status"], after[run_id]["status"]))
        served = {run["id"]: run for run in response.json()["data"]}
        assert served[run_id] == after[run_id]  # the page shows the new state
    assert set(transitions) <= ALLOWED_MOVES
    assert ("queued", "working") in transitions and ("cancelling", "failed") in transitions
    assert len(transitions) == sum(2 if status == "queued" else 1 for status in opened.values())
    for run_id in opened:
        run = truth(world)[run_id]
        assert run["status"] in ("completed", "failed"), run
        assert run["completed_at"] is not None and run["current_step"] is None
    assert sim.requests[-1].fault is None  # nothing open: answered normally, not counted
    assert plan.injected == Counter({f.CHANGE_STATUS: len(transitions)})


def test_change_status_of_a_run_fetched_by_id(sim: CensusSimulator, http: requests.Session) -> None:
    run = sim.world.add_run(sync_with_runs(sim.world, 10), status="working")
    sim.faults = only(f.CHANGE_STATUS)
    served = http.get(f"{sim.base_url}/sync_runs/{run['id']}", timeout=5).json()["data"]
    assert served["status"] in ("completed", "failed")
    assert served == truth(sim.world)[run["id"]]


def test_delete_sync_is_destructive_and_opt_in(
    sim: CensusSimulator, http: requests.Session
) -> None:
    assert f.DELETE_SYNC not in ALL_FAULTS and DESTRUCTIVE_FAULTS == (f.DELETE_SYNC,)
    world = sim.world
    sync_id = sync_with_runs(world, 10)
    runs_before = truth(world)
    sim.faults = only(f.DELETE_SYNC)
    response = http.get(runs_url(sim, sync_id), timeout=5)
    assert (response.status_code, response.json()) == (404, {"status": 404})
    assert world.sync(sync_id) is None
    assert truth(world) == runs_before  # its runs stay in the ground truth
    assert http.get(runs_url(sim, sync_id), timeout=5).status_code == 404  # already gone
    assert [(e.status, e.fault) for e in sim.requests] == [(404, f.DELETE_SYNC), (404, None)]


# --------------------------------------------------------- the plan
def requests_for(world: World) -> list[tuple[str, dict[str, Any]]]:
    """A fixed mix of list and fetch requests, with repeats."""
    sync_id = sync_with_runs(world, 120)
    paths = [("/syncs", {}), *((f"/syncs/{sync_id}/sync_runs", {"page": p}) for p in (1, 2, 3))]
    paths.append((f"/sync_runs/{world.runs_of(sync_id)[0]['id']}", {}))
    return paths * 30


def play(
    seed: int, kinds: tuple[str, ...] = ALL_FAULTS, order: str = "as given"
) -> tuple[list[tuple[str, str | None]], Counter[str]]:
    """Faults of a fresh world and simulator (seeded plan) over :func:`requests_for`.

    ``order`` "grouped" sends every repeat of one request together; "threads" spreads the
    request identities over four concurrent clients.
    """
    world = World(seed=5, sync_run_counts=(3, 10, 120, 0))
    plan = FaultPlan(seed=seed, rate=0.3, kinds=kinds, slow_seconds=0.01)
    calls = requests_for(world)
    names = sorted({call_name(call) for call in calls})
    if order == "grouped":
        calls = sorted(calls, key=call_name)
    lanes = [calls]
    if order == "threads":  # each request identity stays on one client
        lanes = [[c for c in calls if names.index(call_name(c)) % 4 == lane] for lane in range(4)]
    with CensusSimulator(world, token=TOKEN, faults=plan) as sim:
        workers = [threading.Thread(target=send_all, args=(sim, lane)) for lane in lanes]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return fault_log(sim), plan.injected


def call_name(call: tuple[str, dict[str, Any]]) -> str:
    return f"{call[0]}?{sorted(call[1].items())}"


def send_all(sim: CensusSimulator, calls: list[tuple[str, dict[str, Any]]]) -> None:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        for path, params in calls:
            with contextlib.suppress(requests.exceptions.ChunkedEncodingError):
                http.get(sim.base_url + path, params=params, timeout=5)


def by_request(log: list[tuple[str, str | None]]) -> dict[str, list[str | None]]:
    grouped: dict[str, list[str | None]] = {}
    for request, fault in log:
        grouped.setdefault(request, []).append(fault)
    return grouped


def test_same_seed_same_faults_other_seed_other_faults() -> None:
    log, injected = play(seed=7)
    assert play(seed=7) == (log, injected)
    assert play(seed=8)[0] != log
    assert 0 < sum(injected.values()) < len(log)
    assert len(injected) >= 8  # most kinds, world-mutating ones included


@pytest.mark.parametrize("order", ["grouped", "threads"])
def test_fault_sequence_per_request_ignores_interleaving(order: str) -> None:
    log = play(seed=7, kinds=CHEAP)[0]
    assert by_request(play(seed=7, kinds=CHEAP, order=order)[0]) == by_request(log)


def test_rate_and_uniform_kinds_over_2000_requests(
    sim: CensusSimulator, http: requests.Session
) -> None:
    sim.faults = plan = FaultPlan(seed=3, rate=0.1, kinds=CHEAP)
    for index in range(2000):
        http.get(sim.base_url + "/syncs", params={"page": index % 200 + 1}, timeout=5)
    logged = Counter(e.fault for e in sim.requests if e.fault is not None)
    assert logged == plan.injected
    assert 150 <= sum(logged.values()) <= 250  # 200 expected, sd ~13
    assert set(logged) == set(CHEAP)
    assert all(15 <= count <= 60 for count in logged.values()), logged  # ~33 each


def test_rate_zero_and_one(sim: CensusSimulator, http: requests.Session) -> None:
    sim.faults = FaultPlan(seed=1, rate=1.0, kinds=[f.STATUS_503])
    statuses = [http.get(sim.base_url + "/syncs", timeout=5).status_code for _ in range(20)]
    assert statuses == [503] * 20
    sim.faults = FaultPlan(seed=1, rate=0.0)
    statuses = [http.get(sim.base_url + "/syncs", timeout=5).status_code for _ in range(20)]
    assert statuses == [200] * 20


def test_max_consecutive_lets_enough_retries_through(
    sim: CensusSimulator, http: requests.Session
) -> None:
    sim.faults = FaultPlan(seed=2, rate=1.0, kinds=[f.STATUS_500], max_consecutive=2)
    statuses = [http.get(sim.base_url + "/syncs", timeout=5).status_code for _ in range(7)]
    assert statuses == [500, 500, 200, 500, 500, 200, 500]

    sim.faults = FaultPlan(seed=2, rate=0.8, kinds=CHEAP, max_consecutive=2)
    sim.reset_log()
    for page in range(1, 101):  # max_consecutive + 1 attempts always suffice
        attempts = (
            http.get(sim.base_url + "/syncs", params={"page": page}, timeout=5) for _ in range(3)
        )
        assert any(map(is_good, attempts)), page
    streaks = [
        len(list(run))
        for _, faults in by_request(fault_log(sim)).items()
        for faulted, run in itertools.groupby(faults, key=lambda kind: kind is not None)
        if faulted
    ]
    assert max(streaks) == 2


def test_only_paths_restricts_faults(sim: CensusSimulator, http: requests.Session) -> None:
    sync_id = sync_with_runs(sim.world, 120)
    sim.faults = only(f.STATUS_503, only_paths=r"/sync_runs$")
    assert http.get(sim.base_url + "/syncs", timeout=5).status_code == 200
    assert http.get(f"{sim.base_url}/syncs/{sync_id}", timeout=5).status_code == 200
    assert http.get(runs_url(sim, sync_id), timeout=5).status_code == 503
    assert [e.fault for e in sim.requests] == [None, None, f.STATUS_503]


def test_plan_validation() -> None:
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(seed=1, rate=1.5)
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultPlan(seed=1, rate=0.1, kinds=["500", "teapot"])
    with pytest.raises(ValueError, match="at least one"):
        FaultPlan(seed=1, rate=0.1, kinds=[])
    plan = FaultPlan(seed=1, rate=0.1, kinds=[f.HTML, f.STATUS_500, f.HTML])
    assert plan.kinds == (f.STATUS_500, f.HTML)  # canonical order: input order is irrelevant


# ---------------------------------------------------- the hook itself
class Custom(CensusSimulator):
    """Answers page 2 with a bare Response (the original hook contract), page 3 with a Fault."""

    def fault_for(self, entry: RequestLogEntry) -> Fault | Response | None:
        page = entry.query.get("page")
        if page == "2":
            return Response(418, b"{}")
        if page == "3":
            return Fault("mine", response=Response(200, b"[]"), delay=0.01)
        return None


def test_overrides_may_return_a_response_or_a_fault(world: World, http: requests.Session) -> None:
    with Custom(world, token=TOKEN, faults=only(f.STATUS_500)) as sim:  # override wins
        statuses = [
            http.get(sim.base_url + "/syncs", params={"page": p}, timeout=5).status_code
            for p in (1, 2, 3)
        ]
        assert statuses == [200, 418, 200]
        assert [e.fault for e in sim.requests] == [None, f.CUSTOM, "mine"]


def test_command_line_fault_options() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "census_simulator", "--port", "0", "--token", TOKEN),
            *("--syncs", "2", "--runs-per-sync", "5"),
            *("--fault-rate", "1", "--fault-seed", "7", "--fault-kinds", "503, 429"),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        statuses = {
            requests.get(
                base_url + "/syncs", params={"page": p}, headers=headers, timeout=5
            ).status_code
            for p in range(1, 21)
        }
        assert statuses == {429, 503}
        process.terminate()
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "census_simulator: injected faults: 429=" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    bad = subprocess.run(
        [sys.executable, "-m", "census_simulator", "--fault-rate", "0.1", "--fault-kinds", "x"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2 and "unknown fault kinds ['x']" in bad.stderr
