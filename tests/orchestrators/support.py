"""Shared parts of the orchestrator tests: skip rule, subprocess runs, reading the DuckDB file."""

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from tests.conftest import TOKEN
from tests.truth import assert_matches_truth, query, table

REPO = Path(__file__).resolve().parents[2]
# Variables of the developer's own setup that would redirect these runs.
_OWN_PREFIXES = ("SOURCES__", "DESTINATION__", "AIRFLOW", "DAGSTER", "DLT_")


def require(module: str, extra: str) -> None:
    """Skip when `module` is not importable here; with env CI set, fail instead."""
    if importlib.util.find_spec(module) is not None:
        return
    message = f"{module} is not installed: pip install -e '.[test,{extra}]' (CI: .venv-{extra})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_env(sim: CensusSimulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the developer's dlt/orchestrator settings, pointed at
    the simulator; temporary files go under `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update(
        SOURCES__CENSUS__API_KEY=TOKEN,
        SOURCES__CENSUS__BASE_URL=sim.base_url,
        TMPDIR=str(tmp_path),
    )
    env.update(extra)
    return env


def run(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run a command beside this interpreter (its venv), output and errors together."""
    if not Path(command[0]).is_absolute():
        command = [str(Path(sys.executable).parent / command[0]), *command[1:]]
    return subprocess.run(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def loaded_dataset(db_file: Path, tmp_path: Path) -> dlt.Pipeline:
    """A pipeline that only reads dataset `census` of `db_file` (its state is elsewhere)."""
    assert db_file.is_file(), f"no DuckDB file at {db_file}"
    return dlt.pipeline(
        pipeline_name="orchestrator_check",
        pipelines_dir=str(tmp_path / "check"),
        destination=dlt.destinations.duckdb(str(db_file)),
        dataset_name="census",
    )


def assert_loaded_exactly(
    db_file: Path, tmp_path: Path, world: World, runs: list[dict[str, Any]] | None = None
) -> None:
    """sync_runs and its reasons equal the ground truth (or `runs`); syncs are every sync."""
    dataset = loaded_dataset(db_file, tmp_path)
    assert_matches_truth(dataset, world.ground_truth_runs() if runs is None else runs)
    sync_ids = sorted(row[0] for row in query(dataset, f"SELECT id FROM {table(dataset, 'syncs')}"))
    assert sync_ids == sorted(s["id"] for s in world.ground_truth_syncs())


def run_list_requests(sim: CensusSimulator) -> int:
    """Requests for a sync's run list so far."""
    return sum(1 for r in sim.requests if r.path.endswith("/sync_runs"))


def full_history_requests(world: World) -> int:
    """Run-list requests a first load needs: one per 100 runs, at least one per sync."""
    return sum(max(1, math.ceil(len(world.runs_of(s["id"])) / 100)) for s in world.syncs)


def no_change_requests(world: World) -> int:
    """All requests of a run that finds nothing new: the sync list, then one page per sync."""
    return math.ceil(len(world.syncs) / 100) + len(world.syncs)
