"""The Files.com simulator itself: pages, cursors, filters, errors, time and faults, over HTTP."""

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
import requests

from census_source.timestamps import parse_timestamp
from files_com_simulator import (
    TERMINAL_STATUSES,
    FaultPlan,
    FilesComSimulator,
    World,
)
from files_com_source.cursor import api_timestamp
from tests.files_com.conftest import API_KEY, FORBIDDEN_KEY


def get(sim: FilesComSimulator, path: str, key: str | None = API_KEY, **params: Any) -> Any:
    headers = {} if key is None else {"X-FilesAPI-Key": key}
    return requests.get(sim.base_url + path, params=params, headers=headers, timeout=10)


def order(run: dict[str, Any]) -> tuple[Any, int]:
    return parse_timestamp(run["created_at"]), run["id"]


def test_cursor_pages_cover_every_run_once_in_order_despite_inserts(
    world: World, simulator: FilesComSimulator
) -> None:
    expected = sorted(world.ground_truth_runs(), key=order)
    seen: list[dict[str, Any]] = []
    response = get(simulator, "/sync_runs", per_page=700)
    inserted = []
    while True:
        assert response.status_code == 200
        page = response.json()
        assert isinstance(page, list) and len(page) <= 700
        seen.extend(page)
        cursor = response.headers.get("X-Files-Cursor-Next")
        assert cursor == response.headers.get("X-Files-Cursor")  # legacy header, same value
        if len(seen) > 700:
            assert response.headers.get("X-Files-Cursor-Prev")
        if cursor is None:
            break
        inserted.append(world.insert_run(world.sync_ids[2]))  # lands after every listed run
        response = get(simulator, "/sync_runs", per_page=700, cursor=cursor)
    assert [r["id"] for r in seen] == [r["id"] for r in expected] + [r["id"] for r in inserted]


def test_prev_cursor_and_descending_order(world: World, simulator: FilesComSimulator) -> None:
    first = get(simulator, "/sync_runs", per_page=5, **{"sort_by[created_at]": "desc"})
    second = get(
        simulator,
        "/sync_runs",
        per_page=5,
        cursor=first.headers["X-Files-Cursor-Next"],
        **{"sort_by[created_at]": "desc"},
    )
    back = get(
        simulator,
        "/sync_runs",
        per_page=5,
        cursor=second.headers["X-Files-Cursor-Prev"],
        **{"sort_by[created_at]": "desc"},
    )
    newest = sorted(world.ground_truth_runs(), key=order, reverse=True)
    assert [r["id"] for r in first.json() + second.json()] == [r["id"] for r in newest[:10]]
    assert back.json() == first.json()
    assert "X-Files-Cursor-Prev" not in first.headers


def test_created_at_filters_are_exact_at_ties(world: World, simulator: FilesComSimulator) -> None:
    runs = world.ground_truth_runs()
    times = sorted(parse_timestamp(r["created_at"]) for r in runs)
    tie = next(t for t, u in pairwise(times) if t == u)  # shared second
    value = api_timestamp(tie)
    checks: list[tuple[str, Callable[[datetime], bool]]] = [
        ("filter_gt", lambda t: t > tie),
        ("filter_gteq", lambda t: t >= tie),
        ("filter_lt", lambda t: t < tie),
        ("filter_lteq", lambda t: t <= tie),
    ]
    for name, keep in checks:
        got = get(simulator, "/sync_runs", per_page=10_000, **{f"{name}[created_at]": value})
        wanted = sorted(r["id"] for r in runs if keep(parse_timestamp(r["created_at"])))
        assert sorted(r["id"] for r in got.json()) == wanted, name
    failed = get(simulator, "/sync_runs", per_page=10_000, **{"filter[status]": "failure"})
    assert {r["status"] for r in failed.json()} == {"failure"}
    assert len(failed.json()) == sum(r["status"] == "failure" for r in runs)


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 10_001},
        {"per_page": "ten"},
        {"filter_gt[updated_at]": "2025-01-01T00:00:00Z"},
        {"filter_gt[created_at]": "last week"},
        {"sort_by[id]": "asc"},
        {"sort_by[created_at]": "up"},
        {"filter[body]": "x"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_bad_parameters_are_400_with_the_error_shape(
    simulator: FilesComSimulator, params: dict[str, Any]
) -> None:
    response = get(simulator, "/sync_runs", **params)
    assert response.status_code == 400
    assert set(response.json()) == {"error", "http-code", "instance", "title", "type"}


def test_a_cursor_belongs_to_its_selection(simulator: FilesComSimulator) -> None:
    first = get(simulator, "/sync_runs", per_page=3, **{"filter[status]": "success"})
    cursor = first.headers["X-Files-Cursor-Next"]
    assert get(simulator, "/sync_runs", per_page=3, cursor=cursor).status_code == 400
    resent = get(
        simulator, "/sync_runs", per_page=9, cursor=cursor, **{"filter[status]": "success"}
    )
    assert resent.status_code == 200 and len(resent.json()) == 9  # page size may change


def test_keys_are_checked_and_never_logged(world: World, simulator: FilesComSimulator) -> None:
    missing = get(simulator, "/sync_runs", key=None)
    wrong = get(simulator, "/sync_runs", key="wrong")
    forbidden = get(simulator, "/sync_runs", key=FORBIDDEN_KEY)
    assert (missing.status_code, wrong.status_code, forbidden.status_code) == (401, 401, 403)
    assert wrong.json()["type"] == "not-authenticated/invalid-credentials"
    assert wrong.json()["http-code"] == 401
    run_id = world.ground_truth_runs()[0]["id"]
    assert get(simulator, f"/sync_runs/{run_id}").json()["id"] == run_id
    gone = get(simulator, "/sync_runs/1")
    assert gone.status_code == 404 and gone.json()["type"] == "not-found/not-found"
    log = repr(simulator.requests)
    assert API_KEY not in log and FORBIDDEN_KEY not in log
    assert [r.authorized for r in simulator.requests] == [False, False, False, True, True]


def test_advance_finishes_open_runs_and_adds_new_ones(world: World) -> None:
    before, opened = world.now, world.open_run_ids()
    kept = opened[:1]

    report = world.advance(seconds=3600, new_runs_per_sync=2, keep_open=kept)

    assert world.now == before + timedelta(hours=1)
    assert sorted(report.finished_run_ids) == opened[1:]
    for run_id in report.finished_run_ids:
        run = world.run(run_id)
        assert run is not None and run["status"] in TERMINAL_STATUSES
        assert before < parse_timestamp(run["completed_at"]) <= world.now
    assert len(report.new_run_ids) == 2 * len(world.sync_ids)
    new = [world.run(run_id) for run_id in report.new_run_ids]
    assert all(
        r is not None and before < parse_timestamp(r["created_at"]) <= world.now for r in new
    )
    assert set(kept) <= set(world.open_run_ids())


def test_worlds_and_fault_plans_are_reproducible() -> None:
    assert World(seed=21).ground_truth_runs() == World(seed=21).ground_truth_runs()
    assert World(seed=21).ground_truth_runs() != World(seed=22).ground_truth_runs()
    draws = []
    for _ in range(2):
        plan, world = FaultPlan(seed=4, rate=0.5), World(seed=1, sync_run_counts=(3,))
        query = [("per_page", "10")]
        draws.append([plan.decide("GET", "/api/rest/v1/x", query, world) for _ in range(30)])
    assert draws[0] == draws[1] and any(draws[0])


def test_rate_limit_fault_carries_retry_after(world: World) -> None:
    plan = FaultPlan(seed=0, rate=1.0, kinds=["429"])
    with FilesComSimulator(world, api_key=API_KEY, faults=plan) as sim:
        response = get(sim, "/sync_runs")
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert response.json()["http-code"] == 429


def test_standalone_module_prints_its_base_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "files_com_simulator", "--port", "0", "--api-key", "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/rest/v1")
        response = requests.get(base_url + "/sync_runs", headers={"X-FilesAPI-Key": "k"}, timeout=5)
        assert response.status_code == 200 and response.json()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
