"""The Dagster assets materialized for real (`dagster asset materialize`) against the simulator."""

import json
import subprocess
from pathlib import Path

import pytest

from census_simulator import CensusSimulator, Response, World
from tests.conftest import TOKEN
from tests.orchestrators.support import (
    assert_loaded_exactly,
    full_history_requests,
    no_change_requests,
    require,
    run,
    run_env,
    run_list_requests,
)
from tests.scripted import Scripted, ScriptedSimulator

pytestmark = pytest.mark.orchestrators

MODULE = "pipelines.dagster_assets"
DB_NAME = "census_syncruns.duckdb"  # the default, in the working directory


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The folder Dagster runs in (the DuckDB file lands here), with a DAGSTER_HOME inside."""
    require("dagster_dlt", "dagster")
    (tmp_path / "work" / "dagster_home").mkdir(parents=True)
    return tmp_path / "work"


def dagster_env(sim: CensusSimulator, tmp_path: Path, workdir: Path) -> dict[str, str]:
    return run_env(
        sim,
        tmp_path,
        DAGSTER_HOME=str(workdir / "dagster_home"),
        DLT_DATA_DIR=str(tmp_path / "dlt"),  # dlt's pipeline folders
    )


def materialize(env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    return run(["dagster", "asset", "materialize", "-m", MODULE, "--select", "*"], env, workdir)


def test_assets_import_without_settings_or_requests(
    simulator: CensusSimulator, tmp_path: Path, workdir: Path
) -> None:
    env = dagster_env(simulator, tmp_path, workdir)
    del env["SOURCES__CENSUS__API_KEY"]
    script = (
        f"import json, {MODULE} as m; "
        "print(json.dumps([sorted(k.to_user_string() for k in m.census_assets.keys), "
        "m.daily.cron_schedule, [s.name for s in m.defs.schedules]]))"
    )
    result = run(["python", "-c", script], env, workdir)

    assert result.returncode == 0, result.stdout
    assets, cron, schedules = json.loads(result.stdout.strip().splitlines()[-1])
    assert assets == ["dlt_census_sync_runs", "dlt_census_syncs"]
    assert (cron, schedules) == ("@daily", ["census_syncruns_daily"])
    assert simulator.requests == []  # loading the definitions never calls the API


def test_materialize_loads_exactly_and_incrementally(
    world: World, simulator: CensusSimulator, tmp_path: Path, workdir: Path
) -> None:
    env = dagster_env(simulator, tmp_path, workdir)
    db_file = workdir / DB_NAME

    first = materialize(env, workdir)
    assert first.returncode == 0 and "RUN_SUCCESS" in first.stdout, first.stdout[-5000:]
    assert_loaded_exactly(db_file, tmp_path, world)
    assert run_list_requests(simulator) == full_history_requests(world)

    # dagster-dlt drops the local pipeline folder: the cursors must come back from DuckDB
    simulator.reset_log()
    second = materialize(env, workdir)
    assert second.returncode == 0, second.stdout[-5000:]
    assert len(simulator.requests) == no_change_requests(world)

    report = world.advance(seconds=3600)
    assert report.new_run_ids and report.finished_run_ids
    third = materialize(env, workdir)
    assert third.returncode == 0, third.stdout[-5000:]
    assert_loaded_exactly(db_file, tmp_path, world)


def test_failed_sync_fails_the_run_and_is_caught_up(tmp_path: Path, workdir: Path) -> None:
    world = World(seed=5, sync_run_counts=(3, 120, 40))
    bad = world.syncs[1]["id"]
    outage = Scripted(
        lambda e: e.path.endswith(f"/syncs/{bad}/sync_runs"), Response(503, b"{}"), None
    )
    with ScriptedSimulator(world, outage) as sim:
        env = dagster_env(sim, tmp_path, workdir)
        first = materialize(env, workdir)
        assert first.returncode != 0 and "RUN_FAILURE" in first.stdout, first.stdout[-5000:]
        assert "1 sync(s) failed after every retry" in first.stdout
        assert f"sync {bad}" in first.stdout and TOKEN not in first.stdout
        others = [run for run in world.ground_truth_runs() if run["sync_id"] != bad]
        assert_loaded_exactly(workdir / DB_NAME, tmp_path, world, others)

        outage.times = 0
        second = materialize(env, workdir)
    assert second.returncode == 0, second.stdout[-5000:]
    assert_loaded_exactly(workdir / DB_NAME, tmp_path, world)
