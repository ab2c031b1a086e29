"""A backfill loaded in batches of syncs resumes where it stopped, re-fetching nothing landed."""

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from census_source import CensusConfigError
from census_source.timestamps import parse_timestamp
from pipelines.summary import sync_runs_metrics
from tests.conftest import TOKEN, source_for
from tests.crashing import assert_exact, cli_env
from tests.test_cli import SYNCRUNS
from tests.test_source_edges import cursors
from tests.truth import assert_matches_truth

START, END = "2024-01-01T00:00:00Z", "2030-01-01T00:00:00Z"


def window_runs(world: World) -> list[dict[str, Any]]:
    start, end = parse_timestamp(START), parse_timestamp(END)
    return [r for r in world.ground_truth_runs() if start <= parse_timestamp(r["created_at"]) < end]


def runs_requested(sim: CensusSimulator) -> set[int]:
    return {int(r.path.split("/")[-2]) for r in sim.requests if r.path.endswith("/sync_runs")}


def progress(pipeline: dlt.Pipeline) -> dict[str, Any]:
    resources = pipeline.state.get("sources", {}).get("census", {}).get("resources", {})
    return dict(resources.get("sync_runs", {}).get("backfills", {}))


def test_a_batched_backfill_walks_the_syncs_and_each_batch_is_a_checkpoint(
    pipeline: dlt.Pipeline,
) -> None:
    world = World(seed=8, sync_run_counts=(5, 230, 0, 40, 17, 101, 3))
    sync_ids = [s["id"] for s in world.syncs]
    with CensusSimulator(world, token=TOKEN) as sim:
        fetched: list[set[int]] = []
        remaining = []
        for _ in range(3):
            sim.reset_log()
            options = {"start_date": START, "end_date": END, "backfill_batch_syncs": 3}
            pipeline.run(source_for(sim, **options))
            fetched.append(runs_requested(sim))
            remaining.append(sync_runs_metrics(pipeline)["backfill_remaining"])
    assert fetched == [set(sync_ids[:3]), set(sync_ids[3:6]), set(sync_ids[6:])]
    assert remaining == [4, 1, 0]
    assert progress(pipeline) == {}  # a finished backfill leaves no progress behind
    assert cursors(pipeline) == {}  # and never touches the incremental cursors
    assert_matches_truth(pipeline, window_runs(world))


def test_a_negative_batch_is_refused(simulator: CensusSimulator) -> None:
    with pytest.raises(CensusConfigError, match="backfill_batch_syncs must be >= 0"):
        source_for(simulator, start_date=START, backfill_batch_syncs=-1)


def done_in_local_state(workdir: Path) -> list[str]:
    state_file = workdir / "dlt_data" / "pipelines" / "census_syncruns" / "state.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return []
    resources = state.get("sources", {}).get("census", {}).get("resources", {})
    backfills = resources.get("sync_runs", {}).get("backfills", {})
    return [sid for record in backfills.values() for sid in record["done"]]


def test_a_killed_backfill_resumes_without_refetching(tmp_path: Path) -> None:
    world = World(seed=9, sync_run_counts=(300,) * 12)
    with CensusSimulator(world, token=TOKEN, latency=0.01) as sim:
        args = ["backfill", "--quiet", "--base-url", sim.base_url, "--start", START, "--end", END]
        process = subprocess.Popen(
            [str(SYNCRUNS), *args, "--batch-syncs", "2"],
            cwd=tmp_path,
            env=cli_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while len(done_in_local_state(tmp_path)) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        landed = {int(sid) for sid in done_in_local_state(tmp_path)}
        assert 4 <= len(landed) < 12, landed
        sim.reset_log()

        resumed = subprocess.run(
            [str(SYNCRUNS), *args, "--batch-syncs", "2"],
            cwd=tmp_path,
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
        refetched = runs_requested(sim)
    assert refetched == {s["id"] for s in world.syncs} - landed  # nothing landed is fetched again
    pages_per_sync = 3
    assert len([r for r in sim.requests if r.path.endswith("/sync_runs")]) == pages_per_sync * (
        12 - len(landed)
    )
    assert done_in_local_state(tmp_path) == []  # finished: the progress record is gone
    assert len(window_runs(world)) == len(world.ground_truth_runs())  # the window holds all
    assert_exact(tmp_path / "census_syncruns.duckdb", world)
