"""The API breaking an assumption the source relies on: exact tables, a notice, or one clear error.

Each test switches on one `ApiQuirks` of the simulator (README "Assumptions").
"""

import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import pytest
import requests

from hightouch_simulator import ApiQuirks, HightouchSimulator, World
from hightouch_source.reader import ASCENDING_ID, CURSOR_KEPT
from syncruns_common.contract import OrderCheck
from tests.hightouch.conftest import TOKEN, source_for
from tests.hightouch.truth import (
    assert_matches_truth,
    cursors,
    empty_page_requests,
    full_load_requests,
    listing_requests,
    query,
    rows_of_load,
    run_metrics,
    run_requests,
    table,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOOP = (
    "answered only {items} already read on this listing ({n}): the API ignores the paging "
    "parameter or serves a page again; stopped so the listing does not loop"
)


def served(sim: HightouchSimulator, quirks: ApiQuirks) -> HightouchSimulator:
    sim.quirks = quirks
    return sim


@pytest.mark.parametrize("numeric", [False, True], ids=["string_ids", "numeric_ids"])
def test_run_ids_load_as_bigint_whether_strings_or_numbers(
    numeric: bool, world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    served(simulator, ApiQuirks(numeric_run_ids=numeric))
    sync_id = world.syncs[2]["id"]
    answer = requests.get(
        f"{simulator.base_url}/api/v1/syncs/{sync_id}/runs", headers=AUTH, timeout=10
    ).json()
    assert {type(run["id"]) for run in answer["data"]} == {int if numeric else str}

    pipeline.run(source_for(simulator))
    world.advance(seconds=3600, new_runs_per_sync=3)
    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    sql = (
        "SELECT data_type FROM information_schema.columns WHERE table_schema = "
        f"'{pipeline.dataset_name}' AND table_name = 'sync_runs' AND column_name = 'id'"
    )
    assert query(pipeline, sql) == [("BIGINT",)]


@pytest.mark.parametrize("cap", [100, 30], ids=["limit_honoured", "limit_capped_at_30"])
def test_without_has_more_each_listing_ends_at_an_empty_page(
    cap: int, world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    served(simulator, ApiQuirks(omit_has_more=True, max_limit=cap))

    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    # one request more per listing than with hasMore (the empty page), none fewer
    assert len(simulator.requests) == empty_page_requests(world, cap)
    assert all(r.query["limit"] == "100" for r in simulator.requests)  # asked 100, served cap

    world.advance(seconds=3600, new_runs_per_sync=3)
    simulator.reset_log()
    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert len(simulator.requests) == 2 + 2 * len(world.syncs)  # a page and an empty page each


def test_a_silently_capped_limit_with_has_more_is_exact(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    served(simulator, ApiQuirks(max_limit=30))

    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert len(simulator.requests) == listing_requests(world, 30)
    assert listing_requests(world, 100) == full_load_requests(world)


@pytest.mark.parametrize("omit_has_more", [False, True], ids=["has_more_true", "no_has_more"])
def test_a_runs_listing_that_ignores_offset_fails_that_sync_only(
    omit_has_more: bool, world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    big = world.syncs[5]["id"]  # 450 runs
    served(simulator, ApiQuirks(ignore_offset=f"/syncs/{big}/runs", omit_has_more=omit_has_more))

    pipeline.run(source_for(simulator))

    failed = run_metrics(pipeline)["failed_syncs"]
    assert failed == {
        big: f"GET /api/v1/syncs/{big}/runs at offset 100 {LOOP.format(items='runs', n=100)}"
    }
    assert len(run_requests(simulator, big)) == 2  # the page, the same page again: stop
    assert big not in cursors(pipeline) and len(cursors(pipeline)) == len(world.syncs) - 1
    truth = world.ground_truth_runs()
    first_page = [run for run in truth if run["syncId"] == big][:100]  # true rows, kept
    assert_matches_truth(pipeline, [run for run in truth if run["syncId"] != big] + first_page)


def test_a_syncs_listing_that_ignores_offset_fails_the_load_with_one_error(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    served(simulator, ApiQuirks(ignore_offset=r"/syncs/?$"))

    with pytest.raises(Exception) as raised:
        pipeline.run(source_for(simulator))

    assert f"GET /api/v1/syncs at offset 8 {LOOP.format(items='syncs', n=8)}" in str(raised.value)
    assert len(simulator.requests) == 2
    assert not pipeline.state.get("sources")


def syncruns_cli(sim: HightouchSimulator, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        DLT_DATA_DIR=str(cwd / "dlt_data"),
        RUNTIME__REQUEST_BACKOFF_FACTOR="0",
        SOURCES__HIGHTOUCH__API_KEY=TOKEN,
    )
    command = [str(Path(sys.executable).parent / "syncruns"), "run", "--source", "hightouch"]
    command += ["--base-url", sim.base_url, "--quiet", "--duckdb-path", str(cwd / "ht.duckdb")]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_the_cli_exits_5_for_a_runs_listing_and_1_for_the_sync_list(
    world: World, simulator: HightouchSimulator, tmp_path: Path
) -> None:
    big = world.syncs[5]["id"]
    served(simulator, ApiQuirks(ignore_offset=f"/syncs/{big}/runs"))
    partial = syncruns_cli(simulator, tmp_path)
    assert partial.returncode == 5, partial.stderr
    assert f"sync {big}: GET /api/v1/syncs/{big}/runs at offset 100 answered only" in (
        partial.stdout
    )

    served(simulator, ApiQuirks(ignore_offset=r"/syncs/?$"))
    failed = syncruns_cli(simulator, tmp_path)
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("syncruns: error: ")
    assert f"GET /api/v1/syncs at offset 8 {LOOP.format(items='syncs', n=8)}" in lines[0]
    assert TOKEN not in failed.stderr + failed.stdout + partial.stderr + partial.stdout


def listed_ids(sim: HightouchSimulator, sync_id: str, params: dict[str, str]) -> list[int]:
    """The run ids one logged listing request is answered with now (the world unchanged)."""
    answer = requests.get(
        f"{sim.base_url}/api/v1/syncs/{sync_id}/runs", params=params, headers=AUTH, timeout=10
    ).json()
    return [int(run["id"]) for run in answer["data"]]


def test_runs_out_of_order_are_read_in_full_noticed_and_keep_their_cursor(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator))
    before = cursors(pipeline)
    world.advance(seconds=3600, new_runs_per_sync=3)
    served(simulator, ApiQuirks(unsorted_runs=True))
    simulator.reset_log()

    info = pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    expected = {}
    for sync in world.syncs:
        order = OrderCheck(descending=False, what=ASCENDING_ID)
        for logged in run_requests(simulator, sync["id"]):
            for run_id in listed_ids(simulator, sync["id"], logged.query):
                order.see(run_id, run_id)
        if order.broken:
            expected[sync["id"]] = [
                f"GET /api/v1/syncs/{sync['id']}/runs: {order.broken}; {CURSOR_KEPT}"
            ]
    assert expected and run_metrics(pipeline)["contract_notices"] == expected
    for sync_id in expected:
        assert cursors(pipeline).get(sync_id) == before.get(sync_id)  # not moved
    moved = [s for s in before if s not in expected and cursors(pipeline)[s] != before[s]]
    assert moved or len(expected) == len(before)
    assert rows_of_load(pipeline, info.loads_ids[-1])  # the new runs were written

    served(simulator, ApiQuirks())  # sorted again: the cursors move on, nothing is noticed
    world.advance(seconds=600, new_runs_per_sync=1)
    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert run_metrics(pipeline).get("contract_notices", {}) == {}
    assert all(cursors(pipeline)[s] != before[s] for s in expected if s in before)


@pytest.mark.parametrize(
    "quirks",
    [
        ApiQuirks(duplicate_runs=True),
        ApiQuirks(duplicate_runs=True, omit_has_more=True, max_limit=30),
    ],
    ids=["duplicates", "duplicates_capped_without_has_more"],
)
def test_the_same_run_twice_on_a_page_loads_once_exactly(
    quirks: ApiQuirks, world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    served(simulator, quirks)

    pipeline.run(source_for(simulator))

    assert_matches_truth(pipeline, world.ground_truth_runs())  # one row per id (checked)
    if not quirks.omit_has_more:
        listed = sum(
            max(1, math.ceil(sum(2 if r["id"] % 7 == 0 else 1 for r in runs) / 100))
            for s in world.syncs
            if (runs := world.runs_of(s["id"])) is not None
        )
        assert len(simulator.requests) == 1 + listed
    world.advance(seconds=3600, new_runs_per_sync=5)
    pipeline.run(source_for(simulator))
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_aborted_runs_are_reread_until_they_settle_and_pending_runs_stay_open(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    big = world.syncs[5]["id"]
    runs = world.runs_of(big) or []
    young, old = runs[-3], runs[100]  # finished runs, made aborted (the world has more)
    for run in (young, old):
        world.update_run(run["id"], status="aborted", error="Run was aborted")
    # settle so that runs started from 10 minutes before `young` on are still open
    since = datetime.fromisoformat(young["startedAt"]) - timedelta(minutes=10)
    settle = (datetime.now(UTC) - since).total_seconds() / 3600
    truth = world.ground_truth_runs()
    aborted = [r for r in truth if r["status"] == "aborted"]
    unsettled = {str(r["id"]) for r in aborted if datetime.fromisoformat(r["startedAt"]) >= since}
    pending = {str(r["id"]) for r in truth if r["status"] == "pending"}
    assert len(aborted) > len(unsettled) > 0 and pending, "the seeded world has both statuses"

    pipeline.run(source_for(simulator, settle_hours=settle))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    open_runs = {run_id for c in cursors(pipeline).values() for run_id in c["open_runs"]}
    assert open_runs & {str(r["id"]) for r in aborted} == unsettled
    assert str(young["id"]) in unsettled and str(old["id"]) not in open_runs
    assert pending <= open_runs

    simulator.reset_log()
    info = pipeline.run(source_for(simulator, settle_hours=settle))

    assert len(simulator.requests) == 1 + len(world.syncs)  # re-read on each sync's first page
    assert rows_of_load(pipeline, info.loads_ids[-1]) == set()  # unchanged: not written again
    assert str(young["id"]) in cursors(pipeline)[big]["open_runs"]

    pipeline.run(source_for(simulator, settle_hours=settle / 4))  # later: they settle

    open_runs = {run_id for c in cursors(pipeline).values() for run_id in c["open_runs"]}
    assert not open_runs & {str(r["id"]) for r in aborted}
    assert pending <= open_runs  # a pending run never settles
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert query(
        pipeline, f"SELECT count(*) FROM {table(pipeline, 'sync_runs')} WHERE status = 'aborted'"
    ) == [(len(aborted),)]
