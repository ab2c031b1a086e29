"""The Airflow DAG run for real (`airflow dags test`, sqlite metadata DB) against the simulator."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from census_simulator import CensusSimulator, Response, World
from tests.orchestrators.support import (
    REPO,
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

DAG_ID = "census_syncruns"
TASK_ID = "census_syncruns.census_syncruns"
DB_NAME = "census_airflow.duckdb"  # relative: the DAG resolves it against AIRFLOW_HOME


@pytest.fixture
def airflow_home(tmp_path: Path) -> Path:
    """A migrated AIRFLOW_HOME (sqlite) whose dags folder links the project's DAG file."""
    require("airflow", "airflow")
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "census_syncruns.py").symlink_to(REPO / "pipelines" / "airflow_dag.py")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    migrated = run(["airflow", "db", "migrate"], env, home)
    assert migrated.returncode == 0, migrated.stdout[-3000:]
    return home


def airflow_env(home: Path, sim: CensusSimulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    return run_env(
        sim,
        tmp_path,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        DESTINATION__DUCKDB__CREDENTIALS=DB_NAME,
        **extra,
    )


def airflow(env: dict[str, str], home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(["airflow", *args], env, home)


def dag_test(env: dict[str, str], home: Path) -> None:
    """One DAG run; `airflow dags test` exits 0 even when a task fails, so read the run state."""
    result = airflow(env, home, "dags", "test", DAG_ID)
    finished = re.findall(r"DagRun Finished: dag_id=census_syncruns, .*?state=(\w+)", result.stdout)
    assert result.returncode == 0 and finished == ["success"], result.stdout[-5000:]


def test_dag_imports_without_settings_or_requests(
    airflow_home: Path, simulator: CensusSimulator, tmp_path: Path
) -> None:
    env = airflow_env(airflow_home, simulator, tmp_path)
    del env["SOURCES__CENSUS__API_KEY"]
    script = (
        "import json, pipelines.airflow_dag as m; d = m.dag; "
        "print(json.dumps({'schedule': d.schedule, 'catchup': d.catchup, "
        "'max_active_runs': d.max_active_runs, 'retries': d.default_args['retries'], "
        "'tasks': d.task_ids}))"
    )
    result = run(["python", "-c", script], env, tmp_path)

    assert result.returncode == 0, result.stdout
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["schedule"] == "@daily"
    assert facts["catchup"] is False
    assert facts["max_active_runs"] == 1
    assert facts["retries"] == 2
    assert facts["tasks"] == [TASK_ID]
    assert simulator.requests == []  # parsing the DAG never calls the API


def test_dag_runs_load_exactly_and_incrementally(
    airflow_home: Path, world: World, simulator: CensusSimulator, tmp_path: Path
) -> None:
    env = airflow_env(airflow_home, simulator, tmp_path)
    db_file = airflow_home / DB_NAME

    dag_test(env, airflow_home)
    assert_loaded_exactly(db_file, tmp_path, world)
    assert run_list_requests(simulator) == full_history_requests(world)

    # dlt's task group wipes its working folder: the cursors must come back from DuckDB
    simulator.reset_log()
    dag_test(env, airflow_home)
    assert len(simulator.requests) == no_change_requests(world)

    report = world.advance(seconds=3600)
    assert report.new_run_ids and report.finished_run_ids
    dag_test(env, airflow_home)
    assert_loaded_exactly(db_file, tmp_path, world)


def test_rejected_token_fails_the_task_with_one_clear_line(
    airflow_home: Path, simulator: CensusSimulator, tmp_path: Path
) -> None:
    wrong = "wrong-token-5b1e0c"
    env = airflow_env(airflow_home, simulator, tmp_path, SOURCES__CENSUS__API_KEY=wrong)

    # `tasks test` runs the task once, without waiting out the DAG's retry delay
    result = airflow(env, airflow_home, "tasks", "test", DAG_ID, TASK_ID)

    assert "new_state=up_for_retry" in result.stdout, result.stdout[-5000:]
    assert "Census rejected the API token (401)" in result.stdout
    assert wrong not in result.stdout
    stored = [p for p in airflow_home.rglob("*") if p.is_file() and not p.is_symlink()]
    assert stored and not [p for p in stored if wrong.encode() in p.read_bytes()]


def test_failed_sync_fails_the_task_after_the_rest_loaded(
    airflow_home: Path, tmp_path: Path
) -> None:
    world = World(seed=5, sync_run_counts=(3, 120, 40))
    bad = world.syncs[1]["id"]
    outage = Scripted(
        lambda e: e.path.endswith(f"/syncs/{bad}/sync_runs"), Response(503, b"{}"), None
    )
    with ScriptedSimulator(world, outage) as sim:
        env = airflow_env(airflow_home, sim, tmp_path)
        first = airflow(env, airflow_home, "tasks", "test", DAG_ID, TASK_ID)
        assert "new_state=up_for_retry" in first.stdout, first.stdout[-5000:]
        assert "1 sync(s) failed after every retry" in first.stdout
        assert f"sync {bad}: Census API kept answering 503" in first.stdout
        others = [run for run in world.ground_truth_runs() if run["sync_id"] != bad]
        assert_loaded_exactly(airflow_home / DB_NAME, tmp_path, world, others)

        outage.times = 0  # the retry: the failed sync's cursor did not move, so it catches up
        second = airflow(env, airflow_home, "tasks", "test", DAG_ID, TASK_ID)
    assert "new_state=success" in second.stdout, second.stdout[-5000:]
    assert_loaded_exactly(airflow_home / DB_NAME, tmp_path, world)
