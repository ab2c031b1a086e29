"""The Census API simulator over real HTTP: envelopes, paging, auth, evolution, and the spec."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from census_simulator import MISSING, CensusSimulator, World
from simulator_common.timefmt import parse_us

TOKEN = "sim-secret-token-5d1e"
EDGE_COUNTS = (0, 1, 99, 100, 101)
SPEC_PATH = Path("/work/shared/reference/census-openapi.yaml")
REPO_ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def default_world() -> World:
    """The default world; tests using it must not mutate it."""
    return World(seed=0)


@pytest.fixture(scope="module")
def default_sim(default_world: World) -> Iterator[CensusSimulator]:
    with CensusSimulator(default_world, token=TOKEN) as sim:
        yield sim


@pytest.fixture(scope="module")
def edge_world() -> World:
    return World(seed=3, sync_run_counts=EDGE_COUNTS)


@pytest.fixture(scope="module")
def edge_sim(edge_world: World) -> Iterator[CensusSimulator]:
    with CensusSimulator(edge_world, token=TOKEN) as sim:
        yield sim


@pytest.fixture
def small_world() -> World:
    """A fresh small world that a test may change."""
    return World(seed=5, sync_run_counts=(3, 10, 120, 0))


@pytest.fixture
def small_sim(small_world: World) -> Iterator[CensusSimulator]:
    with CensusSimulator(small_world, token=TOKEN) as sim:
        yield sim


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        yield session


def get(http: requests.Session, sim: CensusSimulator, path: str, **params: Any) -> Any:
    response = http.get(sim.base_url + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def all_run_ids(
    http: requests.Session, sim: CensusSimulator, sync_id: int, **params: Any
) -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        body = get(http, sim, f"/syncs/{sync_id}/sync_runs", page=page, **params)
        ids.extend(run["id"] for run in body["data"])
        if body["pagination"]["next_page"] is None:
            return ids
        page = body["pagination"]["next_page"]


def sync_with_runs(world: World, count: int) -> int:
    return next(int(s["id"]) for s in world.syncs if len(world.runs_of(s["id"])) == count)


def live_run(world: World, run_id: int) -> dict[str, Any]:
    run = world.run(run_id)
    assert run is not None, run_id
    return run


# ------------------------------------------------------------- paging
@pytest.mark.parametrize("per_page", [100, 25])
@pytest.mark.parametrize("count", EDGE_COUNTS)
def test_pagination_math(
    edge_world: World, edge_sim: CensusSimulator, http: requests.Session, count: int, per_page: int
) -> None:
    sync_id = sync_with_runs(edge_world, count)
    expected_ids = [run["id"] for run in edge_world.runs_of(sync_id)]
    last_page = max(1, math.ceil(count / per_page))
    seen: list[int] = []
    for page in range(1, last_page + 2):  # one page past the end
        body = get(http, edge_sim, f"/syncs/{sync_id}/sync_runs", page=page, per_page=per_page)
        assert set(body) == {"status", "data", "pagination"}
        assert body["status"] == "success"
        assert body["pagination"] == {
            "total_records": count,
            "per_page": per_page,
            "prev_page": page - 1 if page > 1 else None,
            "page": page,
            "next_page": page + 1 if page < last_page else None,
            "last_page": last_page,
        }
        expected_len = max(0, min(per_page, count - (page - 1) * per_page))
        assert len(body["data"]) == expected_len
        seen.extend(run["id"] for run in body["data"])
    assert seen == expected_ids[::-1]  # default order is desc


def test_order_asc_and_desc(
    default_world: World, default_sim: CensusSimulator, http: requests.Session
) -> None:
    sync_id = sync_with_runs(default_world, 2500)
    ascending = [run["id"] for run in default_world.runs_of(sync_id)]
    assert all_run_ids(http, default_sim, sync_id, order="asc", per_page=100) == ascending
    assert all_run_ids(http, default_sim, sync_id, order="desc", per_page=100) == ascending[::-1]
    first_default = get(http, default_sim, f"/syncs/{sync_id}/sync_runs")["data"][0]["id"]
    assert first_default == ascending[-1]
    syncs = get(http, default_sim, "/syncs", order="asc", per_page=100)["data"]
    assert [s["id"] for s in syncs] == [s["id"] for s in default_world.syncs]


def test_ties_on_created_at_break_by_id(small_sim: CensusSimulator, http: requests.Session) -> None:
    world = small_sim.world
    sync_id = world.syncs[0]["id"]
    stamp = "2030-01-01T00:00:00Z"
    tied = [world.add_run(sync_id, created_at=stamp)["id"] for _ in range(3)]
    asc = all_run_ids(http, small_sim, sync_id, order="asc")
    desc = all_run_ids(http, small_sim, sync_id, order="desc")
    assert asc[-3:] == sorted(tied)
    assert desc[:3] == sorted(tied, reverse=True)


def test_per_page_and_page_defaults_and_clamps(
    default_world: World, default_sim: CensusSimulator, http: requests.Session
) -> None:
    sync_id = sync_with_runs(default_world, 2500)
    path = f"/syncs/{sync_id}/sync_runs"
    assert get(http, default_sim, path)["pagination"]["per_page"] == 25
    assert len(get(http, default_sim, path)["data"]) == 25
    clamped = get(http, default_sim, path, per_page=1000)
    assert clamped["pagination"]["per_page"] == 100
    assert len(clamped["data"]) == 100
    assert get(http, default_sim, path, per_page=0)["pagination"]["per_page"] == 25
    assert get(http, default_sim, path, page=0)["pagination"]["page"] == 1
    assert get(http, default_sim, path, page=-3)["pagination"]["page"] == 1


@pytest.mark.parametrize(
    "params", [{"page": "two"}, {"per_page": "1.5"}, {"order": "sideways"}, {"order": "DESC"}]
)
def test_bad_list_params_are_400(
    default_sim: CensusSimulator, http: requests.Session, params: dict[str, str]
) -> None:
    for path in ("/syncs", "/syncs/1003/sync_runs"):
        response = http.get(default_sim.base_url + path, params=params, timeout=10)
        assert response.status_code == 400
        body = response.json()
        assert body["status"] == "error"
        assert isinstance(body["message"], str)


# ------------------------------------------------------- auth, 404, 405
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Bearer"}],
)
def test_unauthorized_before_anything(small_sim: CensusSimulator, headers: dict[str, str]) -> None:
    small_sim.reset_log()
    for path in ("/syncs", "/sync_runs/1", "/syncs/999999/sync_runs", "/nowhere"):
        response = requests.get(small_sim.base_url + path, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"status": "error", "message": "Unauthorized"}
    assert (
        requests.post(small_sim.base_url + "/syncs", headers=headers, timeout=10).status_code == 401
    )
    log = small_sim.requests
    assert len(log) == 5
    assert not any(entry.authorized for entry in log)


def test_token_never_logged(small_sim: CensusSimulator, http: requests.Session) -> None:
    get(http, small_sim, "/syncs", page=1)
    requests.get(
        small_sim.base_url + "/syncs", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    text = repr(small_sim.requests) + json.dumps([vars(entry) for entry in small_sim.requests])
    assert TOKEN not in text
    assert "nope" not in text
    assert "Bearer" not in text


def test_not_found(small_sim: CensusSimulator, http: requests.Session) -> None:
    world = small_sim.world
    doomed = world.syncs[1]["id"]
    doomed_run = world.runs_of(doomed)[0]["id"]
    live_run = world.runs_of(world.syncs[0]["id"])[0]["id"]
    assert http.get(f"{small_sim.base_url}/sync_runs/{doomed_run}", timeout=10).status_code == 200
    world.delete_sync(doomed)
    paths = [
        "/syncs/424242",
        "/syncs/424242/sync_runs",
        "/sync_runs/1",
        "/sync_runs/abc",
        "/syncs/abc",
        f"/syncs/{doomed}",
        f"/syncs/{doomed}/sync_runs",
        f"/sync_runs/{doomed_run}",
        "/unknown",
    ]
    for path in paths:
        response = http.get(small_sim.base_url + path, timeout=10)
        assert response.status_code == 404, path
        assert response.json() == {"status": 404}
    assert http.get(small_sim.root_url + "/", timeout=10).status_code == 404
    assert http.get(f"{small_sim.base_url}/sync_runs/{live_run}", timeout=10).status_code == 200
    assert doomed not in [s["id"] for s in get(http, small_sim, "/syncs", per_page=100)["data"]]


def test_only_get_is_allowed(small_sim: CensusSimulator, http: requests.Session) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = http.request(method, small_sim.base_url + "/syncs", json={"x": 1}, timeout=10)
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET"
    assert get(http, small_sim, "/syncs")["status"] == "success"  # connection still usable


# ----------------------------------------------------------- fetch
def test_fetch_sync_and_run_match_world(
    default_world: World, default_sim: CensusSimulator, http: requests.Session
) -> None:
    sync = default_world.syncs[3]
    assert get(http, default_sim, f"/syncs/{sync['id']}") == {"status": "success", "data": sync}
    run = default_world.runs_of(sync["id"])[-1]
    assert get(http, default_sim, f"/sync_runs/{run['id']}") == {"status": "success", "data": run}


# ------------------------------------------------------------ world
def test_world_shape_and_realism(default_world: World) -> None:
    syncs = default_world.syncs
    assert [len(default_world.runs_of(s["id"])) for s in syncs] == [0, 1, 99, 100, 101, 2500, 7, 30]
    assert [s["id"] for s in syncs] == sorted(s["id"] for s in syncs)
    runs = default_world.ground_truth_runs()
    by_created = sorted(runs, key=lambda r: (parse_us(r["created_at"]), r["id"]))
    assert [r["id"] for r in by_created] == [r["id"] for r in runs]  # ids follow created_at
    now_us = parse_us(default_world.now.isoformat())
    statuses = Counter(r["status"] for r in runs)
    assert statuses["completed"] > statuses["failed"] > 0 and statuses["skipped"] > 0
    assert statuses["cancelling"] >= 1  # an undocumented status
    failed = [r for r in runs if r["status"] == "failed"]
    assert any(r["completed_at"] is None for r in failed)
    assert any(r["completed_at"] is not None for r in failed)
    assert any(r["records_processed"] is None for r in failed)
    assert any(not r["error_message"].isascii() for r in failed)
    reasons = Counter(
        "missing"
        if "sync_trigger_reason" not in r
        else "null"
        if r["sync_trigger_reason"] is None
        else "extra"
        if set(r["sync_trigger_reason"]) - {"ui_tag", "ui_detail"}
        else "plain"
        for r in runs
    )
    assert all(reasons[kind] > 0 for kind in ("missing", "null", "extra", "plain"))
    assert any("warehouse_query_seconds" in r or "batch_count" in r for r in runs)
    assert any(r["source_record_count"] > 2**31 for r in runs)
    for run in runs:
        created = parse_us(run["created_at"])
        assert parse_us(run["updated_at"]) >= created
        assert run["completed_at"] is None or parse_us(run["completed_at"]) >= created
        assert parse_us(run["updated_at"]) <= now_us
        if run["status"] in ("working", "queued", "cancelling"):
            assert run["completed_at"] is None
        if run["status"] == "working":
            assert run["current_step"]
    for sync in syncs:
        open_runs = [
            r
            for r in default_world.runs_of(sync["id"])
            if r["status"] not in ("completed", "failed", "skipped")
        ]
        assert len(open_runs) <= 2


def test_mixed_timestamp_precision(default_world: World) -> None:
    pattern = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
    digits: Counter[int] = Counter()
    seconds: dict[str, set[int]] = {}
    for run in default_world.ground_truth_runs():
        for key in ("created_at", "updated_at", "completed_at"):
            if run[key] is not None:
                match = pattern.match(run[key])
                assert match, run[key]
                digits[len(match.group(1) or ".") - 1] += 1
        seconds.setdefault(run["created_at"][:19], set()).add(run["sync_id"])
    assert digits[3] > digits[0] > 0 and digits[1] > 0
    assert set(digits) <= {0, 1, 3}
    assert any(len(sync_ids) > 1 for sync_ids in seconds.values())  # shared seconds


def test_determinism() -> None:
    def snapshot(world: World) -> str:
        return json.dumps([world.ground_truth_syncs(), world.ground_truth_runs(), str(world.now)])

    first, second = World(seed=42), World(seed=42)
    assert snapshot(first) == snapshot(second)
    assert snapshot(first) != snapshot(World(seed=43))
    for world in (first, second):
        world.advance(seconds=5000, new_runs_per_sync=2, add_syncs=2, delete_syncs=[1001])
    assert snapshot(first) == snapshot(second)


def test_advance(small_world: World) -> None:
    world = small_world
    old_now = world.now
    before = {r["id"]: r for r in world.ground_truth_runs()}
    open_before = {
        rid for rid, r in before.items() if r["status"] not in ("completed", "failed", "skipped")
    }
    doomed = world.syncs[0]["id"]
    doomed_runs = world.runs_of(doomed)
    live_before = [s["id"] for s in world.syncs if s["id"] != doomed]

    report = world.advance(seconds=7200, new_runs_per_sync=2, add_syncs=2, delete_syncs=[doomed])

    assert world.now == old_now + timedelta(seconds=7200)
    assert report.deleted_sync_ids == [doomed]
    assert len(report.added_sync_ids) == 2 and min(report.added_sync_ids) > max(live_before)
    live_ids = [s["id"] for s in world.syncs]
    assert live_ids == live_before + report.added_sync_ids
    assert world.sync(doomed) is None and world.runs_of(doomed) == []
    assert world.run(doomed_runs[0]["id"]) is None
    # open runs of live syncs got finished; those of the deleted sync stay as they were
    doomed_open = {r["id"] for r in doomed_runs} & open_before
    assert set(report.finished_run_ids) == open_before - doomed_open
    for run_id in report.finished_run_ids:
        run = world.run(run_id)
        assert run is not None
        assert run["status"] in ("completed", "failed")
        assert run["completed_at"] is not None and run["current_step"] is None
    # new runs: ids above all old ones, created in (old now, new now], ascending with ids
    new_runs = [world.run(rid) for rid in report.new_run_ids]
    assert min(report.new_run_ids) > max(before)
    assert report.new_run_ids == sorted(report.new_run_ids)
    lower, upper = parse_us(old_now.isoformat()), parse_us(world.now.isoformat())
    created = [parse_us(r["created_at"]) for r in new_runs if r]
    assert created == sorted(created)
    assert all(lower < c <= upper for c in created)
    per_sync = Counter(r["sync_id"] for r in new_runs if r)
    assert all(per_sync[sid] == 2 for sid in live_before)
    assert all(1 <= per_sync[sid] <= 5 for sid in report.added_sync_ids)
    # ground truth keeps the deleted sync and its runs as they were at deletion
    truth = {r["id"]: r for r in world.ground_truth_runs()}
    assert all(truth[r["id"]] == r for r in doomed_runs)
    assert set(truth) == set(before) | set(report.new_run_ids)
    assert doomed in [s["id"] for s in world.ground_truth_syncs()]
    assert [r["id"] for r in world.ground_truth_runs()] == sorted(truth)


def test_advance_per_sync_counts_and_keep_open(small_world: World) -> None:
    world = small_world
    target = world.syncs[2]["id"]
    open_before = [
        r["id"] for r in world.ground_truth_runs() if r["status"] in ("working", "queued")
    ]
    report = world.advance(seconds=60, new_runs_per_sync={target: 150}, finish_open=False)
    assert report.finished_run_ids == []
    assert all(live_run(world, rid)["status"] in ("working", "queued") for rid in open_before)
    assert Counter(live_run(world, rid)["sync_id"] for rid in report.new_run_ids) == {target: 150}


def test_finishing_changes_some_trigger_reasons() -> None:
    world = World(seed=8, sync_run_counts=[2] * 60)
    changed = 0
    for _ in range(3):
        opened = {r["id"]: r for r in world.ground_truth_runs()}
        report = world.advance(seconds=600)
        for run_id in report.finished_run_ids:
            old, new = opened[run_id], world.run(run_id)
            assert new is not None
            changed += old.get("sync_trigger_reason", MISSING) != new.get(
                "sync_trigger_reason", MISSING
            )
    assert changed > 0


def test_add_run_and_update_run(small_sim: CensusSimulator, http: requests.Session) -> None:
    world = small_sim.world
    sync_id = world.syncs[1]["id"]
    created = world.now
    run = world.add_run(sync_id, status="working", records_processed=None)
    assert run["sync_id"] == sync_id and run["status"] == "working"
    assert parse_us(run["created_at"]) == parse_us(created.isoformat())
    assert run["completed_at"] is None and run["records_processed"] is None
    assert get(http, small_sim, f"/syncs/{sync_id}/sync_runs")["data"][0] == run
    when = datetime(2031, 5, 6, 7, 8, 9, 500000, tzinfo=UTC)
    updated = world.update_run(
        run["id"], status="completed", completed_at=when, sync_trigger_reason=MISSING, extra=1
    )
    assert updated["completed_at"] == "2031-05-06T07:08:09.5Z"
    assert "sync_trigger_reason" not in updated and updated["extra"] == 1
    assert get(http, small_sim, f"/sync_runs/{run['id']}")["data"] == updated
    report = world.advance(seconds=60, new_runs_per_sync=0)
    assert run["id"] not in report.finished_run_ids  # completed now, so no longer open
    with pytest.raises(KeyError):
        world.add_run(999_999)
    with pytest.raises(KeyError):
        world.update_run(1)


def test_update_run_created_at_reorders(small_world: World) -> None:
    sync_id = small_world.syncs[2]["id"]
    oldest = small_world.runs_of(sync_id)[0]["id"]
    small_world.update_run(oldest, created_at="2099-01-01T00:00:00.000Z")
    assert small_world.runs_of(sync_id)[-1]["id"] == oldest


# ------------------------------------------------------------ server
def test_latency_knob(small_sim: CensusSimulator, http: requests.Session) -> None:
    small_sim.latency = 0.25
    try:
        began = time.monotonic()
        get(http, small_sim, "/syncs")
        assert time.monotonic() - began >= 0.25
    finally:
        small_sim.latency = 0.0
    began = time.monotonic()
    get(http, small_sim, "/syncs")
    assert time.monotonic() - began < 0.2


def test_request_log(small_sim: CensusSimulator, http: requests.Session) -> None:
    small_sim.reset_log()
    get(http, small_sim, "/syncs", page=2, per_page=1, order="asc")
    http.get(small_sim.base_url + "/sync_runs/1", timeout=10)
    log = small_sim.requests
    assert [(e.method, e.path, e.query, e.status, e.authorized) for e in log] == [
        ("GET", "/api/v1/syncs", {"page": "2", "per_page": "1", "order": "asc"}, 200, True),
        ("GET", "/api/v1/sync_runs/1", {}, 404, True),
    ]
    assert log[0].started <= log[1].started <= time.monotonic()
    log[0].query["page"] = "mutated"
    assert small_sim.requests[0].query["page"] == "2"  # a copy
    small_sim.reset_log()
    assert small_sim.requests == []


def test_urls_and_keep_alive(small_sim: CensusSimulator) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", small_sim.root_url)
    assert small_sim.base_url == small_sim.root_url + "/api/v1"
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        first = session.get(small_sim.base_url + "/syncs", timeout=10)
        assert first.headers.get("Connection", "").lower() != "close"
        assert first.raw.version == 11
        session.get(small_sim.base_url + "/syncs", timeout=10)


def test_pages_consistent_while_world_changes(small_sim: CensusSimulator) -> None:
    world = small_sim.world
    sync_id = world.syncs[2]["id"]
    stop = threading.Event()

    def churn() -> None:
        while not stop.wait(0.002):
            world.advance(seconds=30, new_runs_per_sync={sync_id: 3})

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            for _ in range(30):
                body = session.get(
                    f"{small_sim.base_url}/syncs/{sync_id}/sync_runs",
                    params={"per_page": 100},
                    timeout=10,
                ).json()
                ids = [run["id"] for run in body["data"]]
                assert ids == sorted(ids, reverse=True) and len(ids) == 100
                assert body["pagination"]["total_records"] >= 120
    finally:
        stop.set()
        worker.join()


def test_stop_releases_port_and_is_idempotent() -> None:
    sim = CensusSimulator(World(seed=1, sync_run_counts=[1]), token=TOKEN).start()
    url = sim.base_url
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        assert session.get(url + "/syncs", timeout=10).status_code == 200
        sim.stop()
        sim.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(url + "/syncs", timeout=2)


def test_command_line_server() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "census_simulator",
            "--port",
            "0",
            "--token",
            TOKEN,
            "--syncs",
            "3",
            "--runs-per-sync",
            "40",
            "--seed",
            "2",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", base_url)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        body = requests.get(base_url + "/syncs", headers=headers, timeout=10).json()
        assert body["pagination"]["total_records"] == 3
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ------------------------------------------------------- OpenAPI spec
SPEC_URI = "urn:census-openapi"


def _load_spec(patched: bool) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    if not patched:
        return spec
    run = spec["components"]["schemas"]["SyncRun"]["properties"]
    # Erratum 1: full_sync has a stray `$ref: SyncTriggerReason` beside `type: boolean`.
    del run["full_sync"]["$ref"]
    # Erratum 2: sync_trigger_reason is undeclared; the docs show it, and it may be null.
    run["sync_trigger_reason"] = {
        "anyOf": [{"$ref": "#/components/schemas/SyncTriggerReason"}, {"type": "null"}]
    }
    # Erratum 3: current_step is null when a run is not executing; the spec makes it non-null.
    run["current_step"]["type"] = ["string", "null"]
    run["current_step"]["enum"] = [*run["current_step"]["enum"], None]
    # Erratum 4: counts from the fetch-run docs are missing from the schema; declare them strictly.
    for name in (
        "source_record_updates",
        "source_record_deletes",
        "source_record_invalids",
        "records_sent",
    ):
        run[name] = {"type": "integer"}
    # Not an erratum: the simulator deliberately emits an undocumented open status.
    run["status"]["enum"] = [*run["status"]["enum"], "cancelling"]
    return spec


def _validator(spec: dict[str, Any], *pointer: str) -> OAS31Validator:
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    escaped = "/".join(part.replace("~", "~0").replace("/", "~1") for part in pointer)
    return OAS31Validator(
        {"$ref": f"{SPEC_URI}#/{escaped}"},
        registry=registry,
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )


def _response_schema(path: str, status: str = "200") -> tuple[str, ...]:
    return ("paths", path, "get", "responses", status, "content", "application/json", "schema")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return _load_spec(patched=True)


def _assert_valid(validator: OAS31Validator, instance: Any) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_spec_list_and_fetch_syncs(
    spec: dict[str, Any], default_sim: CensusSimulator, http: requests.Session
) -> None:
    listing = get(http, default_sim, "/syncs", per_page=100)
    assert len(listing["data"]) == 8
    _assert_valid(_validator(spec, *_response_schema("/syncs")), listing)
    fetch = _validator(spec, *_response_schema("/syncs/{sync_id}"))
    for sync in listing["data"]:
        _assert_valid(fetch, get(http, default_sim, f"/syncs/{sync['id']}"))


def test_spec_list_sync_runs_every_run(
    spec: dict[str, Any],
    default_world: World,
    default_sim: CensusSimulator,
    http: requests.Session,
) -> None:
    validator = _validator(spec, *_response_schema("/syncs/{sync_id}/sync_runs"))
    total = 0
    for sync in default_world.syncs:
        page: int | None = 1
        while page is not None:
            body = get(http, default_sim, f"/syncs/{sync['id']}/sync_runs", page=page, per_page=100)
            _assert_valid(validator, body)
            total += len(body["data"])
            page = body["pagination"]["next_page"]
    assert total == len(default_world.ground_truth_runs())


def test_spec_fetch_sync_run(
    spec: dict[str, Any],
    default_world: World,
    default_sim: CensusSimulator,
    http: requests.Session,
) -> None:
    validator = _validator(spec, *_response_schema("/sync_runs/{sync_run_id}"))
    samples: dict[str, dict[str, Any]] = {}
    for run in default_world.ground_truth_runs():
        reason = run.get("sync_trigger_reason", "missing")
        kind = f"{run['status']}/{run['completed_at'] is None}/{type(reason).__name__}"
        samples.setdefault(kind, run)
    assert len(samples) > 8
    for run in samples.values():
        _assert_valid(validator, get(http, default_sim, f"/sync_runs/{run['id']}"))


def test_spec_not_found(
    spec: dict[str, Any], default_sim: CensusSimulator, http: requests.Session
) -> None:
    validator = _validator(
        spec, "components", "responses", "NotFound", "content", "application/json", "schema"
    )
    for path in ("/syncs/1", "/sync_runs/1"):
        response = http.get(default_sim.base_url + path, timeout=10)
        assert response.status_code == 404
        _assert_valid(validator, response.json())


def test_spec_errata_are_real(default_world: World) -> None:
    """Each patch above is needed: the spec as published rejects realistic runs."""
    raw = _validator(_load_spec(patched=False), "components", "schemas", "SyncRun")
    runs = default_world.ground_truth_runs()
    messages = {
        (str(error.absolute_path[0]) if error.absolute_path else "", error.validator)
        for run in runs[:300]
        for error in raw.iter_errors(run)
    }
    assert ("full_sync", "type") in messages
    assert ("current_step", "type") in messages
    raw_run = _load_spec(patched=False)["components"]["schemas"]["SyncRun"]["properties"]
    assert "sync_trigger_reason" not in raw_run and "records_sent" not in raw_run
