"""Kill the `syncruns` process at random moments, then prove the next run ends exact.

Invariant checked after every kill: the pipeline state that the destination holds for a
completed load never has a sync cursor ahead of the runs loaded for that sync.
"""

import json
import os
import random
import signal
import subprocess
import time
import zlib
from base64 import b64decode
from pathlib import Path
from typing import Any

import duckdb

from census_simulator import CensusSimulator, World
from census_source.timestamps import parse_timestamp
from tests.conftest import TOKEN
from tests.test_cli import SYNCRUNS

DATASET = "census"


def cli_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        DLT_DATA_DIR=str(workdir / "dlt_data"),
        SOURCES__CENSUS__API_KEY=TOKEN,
        RUNTIME__REQUEST_BACKOFF_FACTOR="0",
    )
    return env


def run_cli(sim: CensusSimulator, workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(SYNCRUNS), "run", "--quiet", "--base-url", sim.base_url],
        cwd=workdir,
        env=cli_env(workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def committed_cursors(db: Path) -> dict[str, Any]:
    """Sync cursors in the newest state row of a completed load (what a fresh machine restores)."""
    if not db.exists():
        return {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {
            r[0]
            for r in con.sql(
                f"SELECT table_name FROM duckdb_tables() WHERE schema_name = '{DATASET}'"
            ).fetchall()
        }
        if "_dlt_pipeline_state" not in tables:
            return {}
        row = con.execute(
            f"SELECT s.state FROM {DATASET}._dlt_pipeline_state s "
            f"JOIN {DATASET}._dlt_loads l ON l.load_id = s._dlt_load_id AND l.status = 0 "
            "ORDER BY s.version DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return {}
    state = json.loads(zlib.decompress(b64decode(row[0])))
    resources = state.get("sources", {}).get("census", {}).get("resources", {})
    return dict(resources.get("sync_runs", {}).get("syncs", {}))


def loaded_high_water(db: Path) -> dict[str, Any]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql(
            f"SELECT sync_id, max(created_at) FROM {DATASET}.sync_runs GROUP BY 1"
        ).fetchall()
    return {str(sync_id): newest for sync_id, newest in rows}


def assert_cursors_not_ahead(db: Path) -> None:
    cursors = committed_cursors(db)
    loaded = loaded_high_water(db) if cursors else {}
    for sync_id, cursor in cursors.items():
        if cursor.get("high_water") is None:
            continue
        assert sync_id in loaded, f"cursor for sync {sync_id} but none of its runs loaded"
        assert parse_timestamp(cursor["high_water"]) <= loaded[sync_id], sync_id


def interrupted_phase(workdir: Path) -> str:
    """Which step a killed run was in, from the packages dlt left behind."""
    root = workdir / "dlt_data" / "pipelines" / "census_syncruns"
    if any((root / "load" / "normalized").glob("*")) or any((root / "load" / "new").glob("*")):
        return "load"
    if any((root / "normalize" / "extracted").glob("*")):
        return "normalize"
    return "extract"


PHASES = ("extract", "normalize", "load")


def kill_during(process: subprocess.Popen[bytes], workdir: Path, phase: str, delay: float) -> str:
    """SIGKILL the run in `phase` (extract: after `delay`; later steps: once dlt is in them)."""
    root = workdir / "dlt_data" / "pipelines" / "census_syncruns"
    marker = {"normalize": root / "normalize" / "extracted", "load": root / "load" / "normalized"}
    deadline = time.monotonic() + 120
    if phase == "extract":
        time.sleep(delay)
    else:
        while process.poll() is None and time.monotonic() < deadline:
            if any(marker[phase].glob("*")):
                break
            time.sleep(0.002)
    if process.poll() is not None:
        return "finished"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return interrupted_phase(workdir)


def crash_and_recover(workdir: Path, seed: int, kills: int) -> list[str]:
    """Kill `kills` runs in chosen steps (advancing the world between), then recover exactly.

    Returns the step each kill interrupted ("extract", "normalize", "load" or "finished").
    """
    rng = random.Random(seed)
    world = World(seed=seed, sync_run_counts=(0, 1, 150, 900, 2500, 40, 7, 333))
    db = workdir / "census_syncruns.duckdb"
    phases: list[str] = []
    with CensusSimulator(world, token=TOKEN, latency=0.002) as sim:
        assert _calm_run(sim, workdir) > 0
        world.advance(seconds=3600, new_runs_per_sync=150)
        duration = _calm_run(sim, workdir)  # an incremental run: the killed runs are like it
        for kill in range(kills):
            world.advance(seconds=rng.randint(600, 7200), new_runs_per_sync=rng.randint(50, 200))
            process = run_cli(sim, workdir)
            phase = PHASES[(kill + seed) % len(PHASES)]
            phases.append(kill_during(process, workdir, phase, rng.uniform(0.05, duration * 0.6)))
            assert_cursors_not_ahead(db)
        assert _calm_run(sim, workdir) > 0  # recovery: pending packages land, then new data
    assert_exact(db, world)
    return phases


def _calm_run(sim: CensusSimulator, workdir: Path) -> float:
    started = time.monotonic()
    process = run_cli(sim, workdir)
    code = process.wait(timeout=300)
    assert code == 0, process.stderr.read() if process.stderr else ""
    return time.monotonic() - started


def assert_exact(db: Path, world: World) -> None:
    from tests.truth import RUN_FIELDS, expected_reasons, expected_runs

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"SELECT {', '.join(RUN_FIELDS)} FROM {DATASET}.sync_runs").fetchall()
        reasons = con.execute(
            f"SELECT sync_run_id, ui_tag, ui_detail FROM {DATASET}.sync_runs__sync_trigger_reason"
        ).fetchall()
    truth = world.ground_truth_runs()
    loaded = {row[0]: dict(zip(RUN_FIELDS, row, strict=True)) for row in rows}
    assert len(loaded) == len(rows), "duplicate runs"
    expected = expected_runs(truth)
    missing, extra = sorted(set(expected) - set(loaded)), sorted(set(loaded) - set(expected))
    assert not missing and not extra, f"missing {missing[:5]} ({len(missing)}), extra {extra[:5]}"
    bad = [rid for rid in expected if _normalized(loaded[rid]) != expected[rid]]
    assert not bad, f"{len(bad)} runs differ, e.g. {bad[0]}"
    assert len(reasons) == len(set(reasons)), "duplicate trigger-reason rows"
    want = expected_reasons(truth)
    lost, stray = sorted(want - set(reasons))[:3], sorted(set(reasons) - want)[:3]
    assert set(reasons) == want, f"trigger reasons: missing {lost}, extra {stray}"


def _normalized(row: dict[str, Any]) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in row.items()}
