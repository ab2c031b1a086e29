"""Issue 15, the command line's side: pipelines that belong to one source, one loading command
at a time, dataset names as dlt stores them, each command taking only its own flags, messages
in the words the user typed, a summary of what was loaded, and one note for the filesystem."""

import os
import signal
import subprocess
import time
from pathlib import Path

import dlt
import duckdb
import pytest

from census_simulator import CensusSimulator
from census_simulator import World as CensusWorld
from census_source import census_source
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld
from tests.crashing import assert_exact
from tests.test_operations import KEY, SYNCRUNS, assert_one_line, summary_value, syncruns


def schemas_in(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql("SELECT DISTINCT table_schema FROM information_schema.tables").fetchall()
    return {row[0] for row in rows}


# item 1: a pipeline name reused with another source is refused before anything is written


def test_a_pipeline_of_another_source_is_refused_and_the_first_keeps_working(
    tmp_path: Path,
) -> None:
    census_world = CensusWorld(seed=3, sync_run_counts=(20, 30))
    with (
        CensusSimulator(census_world, token=KEY) as census,
        HightouchSimulator(HightouchWorld(seed=3), token=KEY) as hightouch,
    ):
        first = syncruns("run", "--base-url", census.base_url, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        schemas = schemas_in(tmp_path / "census_syncruns.duckdb")
        reused = syncruns(
            "run", "--base-url", hightouch.base_url, "--pipeline-name", "census_syncruns",
            "--duckdb-path", "census_syncruns.duckdb", cwd=tmp_path, source="hightouch",
        )  # fmt: skip
        assert reused.returncode == 2, reused.stderr
        line = assert_one_line(reused)
        assert "'census_syncruns'" in line and "cursors of source census" in line
        assert "--pipeline-name hightouch_syncruns" in line
        assert hightouch.requests == []  # refused before a request
        assert schemas_in(tmp_path / "census_syncruns.duckdb") == schemas
        census_world.advance(seconds=3600)
        again = syncruns("run", "--base-url", census.base_url, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
    assert_exact(tmp_path / "census_syncruns.duckdb", census_world)


def test_a_pipeline_of_another_dataset_is_refused(tmp_path: Path) -> None:
    with CensusSimulator(CensusWorld(seed=3, sync_run_counts=(20,)), token=KEY) as sim:
        assert syncruns("run", "--base-url", sim.base_url, cwd=tmp_path).returncode == 0
        schemas, requests = schemas_in(tmp_path / "census_syncruns.duckdb"), len(sim.requests)
        moved = syncruns("run", "--base-url", sim.base_url, "--dataset", "other", cwd=tmp_path)
        assert len(sim.requests) == requests  # refused before a request
    assert moved.returncode == 2, moved.stderr
    line = assert_one_line(moved)
    assert "dataset 'census', not 'other'" in line and "--dataset census" in line
    assert schemas_in(tmp_path / "census_syncruns.duckdb") == schemas


# item 7: one loading command at a time per pipeline


def start_run(sim: CensusSimulator, cwd: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(DLT_DATA_DIR=str(cwd / "dlt_data"), SOURCES__CENSUS__API_KEY=KEY)
    return subprocess.Popen(
        [str(SYNCRUNS), "run", "--base-url", sim.base_url, "--quiet", *extra],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_requests(sim: CensusSimulator, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not sim.requests:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_second_run_of_a_busy_pipeline_stops_at_once(tmp_path: Path) -> None:
    world = CensusWorld(seed=3, sync_run_counts=(40,) * 12)
    with CensusSimulator(world, token=KEY, latency=0.2) as sim:
        first = start_run(sim, tmp_path)
        wait_for_requests(sim, first)
        started = time.monotonic()
        second = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path)
        took = time.monotonic() - started
        assert first.poll() is None, "the first run ended before the second was refused"
        out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert second.returncode == 7, second.stderr
    line = assert_one_line(second)
    assert "'census_syncruns' is busy" in line
    assert f"syncruns run (pid {first.pid}" in line and "--wait" in line
    assert took < 30
    assert summary_value(out, "runs new") == 480
    assert_exact(tmp_path / "census_syncruns.duckdb", world)


def test_wait_queues_behind_the_running_command(tmp_path: Path) -> None:
    world = CensusWorld(seed=3, sync_run_counts=(40,) * 8)
    with CensusSimulator(world, token=KEY, latency=0.2) as sim:
        first = start_run(sim, tmp_path)
        wait_for_requests(sim, first)
        second = syncruns("run", "--base-url", sim.base_url, "--wait", "300", cwd=tmp_path)
        out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert second.returncode == 0, second.stderr
    # it read the cursors the first run committed: nothing new, nothing twice
    assert summary_value(out, "runs new") == 320
    assert summary_value(second.stdout, "runs new") == 0
    assert_exact(tmp_path / "census_syncruns.duckdb", world)


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    world = CensusWorld(seed=3, sync_run_counts=(40,) * 8)
    with CensusSimulator(world, token=KEY, latency=0.2) as sim:
        first = start_run(sim, tmp_path)
        wait_for_requests(sim, first)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
        sim.latency = 0.0
        after = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert_exact(tmp_path / "census_syncruns.duckdb", world)


# item 10: a mixed-case dataset name is normalized once, and either spelling finds it


def test_a_mixed_case_dataset_is_normalized_and_found_by_either_spelling(tmp_path: Path) -> None:
    with CensusSimulator(CensusWorld(seed=3, sync_run_counts=(20, 30)), token=KEY) as sim:
        loaded = syncruns(
            "run", "--base-url", sim.base_url, "--dataset", "CensusProd", cwd=tmp_path
        )
    assert loaded.returncode == 0, loaded.stderr
    notes = [line for line in loaded.stderr.splitlines() if line]
    assert notes == [
        "syncruns: note: --dataset 'CensusProd' is the dataset 'census_prod' "
        "(dlt stores names in snake_case; either spelling works)"
    ]
    assert {"census_prod"} <= schemas_in(tmp_path / "census_syncruns.duckdb")
    assert not {"CensusProd", "censusprod"} & schemas_in(tmp_path / "census_syncruns.duckdb")
    checks = [
        syncruns("check", "--dataset", spelling, cwd=tmp_path)
        for spelling in ("CensusProd", "census_prod")
    ]
    assert checks[0].stdout == checks[1].stdout
    assert checks[0].returncode == checks[1].returncode
    assert "syncs" in checks[1].stdout and "No run data" not in checks[1].stderr


# item 11: each command takes only its own flags


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["check", "--records", "--api-version", "v9", "--region", "mars", "--base-url", "x"],
            "check does not take --records, --api-version, --region, --base-url",
        ),
        (["report", "--group-id", "7"], "report does not take --group-id"),
        (["demo", "--base-url=http://127.0.0.1:9"], "demo does not take --base-url"),
        (["doctor", "--records"], "doctor does not take --records"),
        (["check", "--wait", "5"], "check does not take --wait"),
    ],
)
def test_a_flag_a_command_does_not_use_is_refused(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = syncruns(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in assert_one_line(result)
    assert not (tmp_path / "dlt_data").exists()


def test_region_with_a_base_url_is_refused(tmp_path: Path) -> None:
    result = syncruns(
        "run", "--region", "mars", "--base-url", "http://127.0.0.1:9/api/v1", cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert "--region does not apply with --base-url" in assert_one_line(result)


# item 12: a message names the flag the user typed, not the config key behind it


@pytest.mark.parametrize(
    ("args", "named", "not_named"),
    [
        (["run", "--sync-id", "abc"], "fix --sync-id", "sources.census.sync_ids"),
        (["run", "--sync-id", "99999"], "fix --sync-id", "sources.census.sync_ids"),
        (["backfill", "--start", "yesterday"], "--start 'yesterday'", "start_date"),
        (
            ["backfill", "--start", "2024-02-01", "--end", "2024-01-01"],
            "--end 2024-01-01T00:00:00+00:00 is not after --start",
            "end_date",
        ),
        (["backfill", "--start", "2024-01-01", "--batch-syncs", "-1"], "--batch-syncs", "sources"),
        (["run", "--api-version", "v9"], "set --api-version to 'v1' or 'v2'", "sources.census"),
        (["run", "--region", "mars"], "--region", "sources.census.region"),
    ],
)
def test_messages_name_the_flag_the_user_typed(
    tmp_path: Path, args: list[str], named: str, not_named: str
) -> None:
    with CensusSimulator(CensusWorld(seed=3, sync_run_counts=(5,)), token=KEY) as sim:
        base = [] if "--region" in args else ["--base-url", sim.base_url]
        result = syncruns(*args, *base, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = assert_one_line(result)
    assert named in line and not_named not in line


def test_a_setting_from_config_keeps_its_key(tmp_path: Path) -> None:
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text('[sources.census]\nsync_ids = ["abc"]\n')
    with CensusSimulator(CensusWorld(seed=3, sync_run_counts=(5,)), token=KEY) as sim:
        result = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "fix sources.census.sync_ids" in assert_one_line(result)


# item 14: after finishing a left-over load package, the summary describes what was loaded


def test_the_summary_counts_the_left_over_package_it_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # dlt keeps the folder of a pipeline's first run
    world = CensusWorld(seed=3, sync_run_counts=(40, 60, 80))
    failed = sum(1 for run in world.ground_truth_runs() if run["status"] == "failed")
    assert failed > 0
    with CensusSimulator(world, token=KEY) as sim:
        killed = dlt.pipeline(
            pipeline_name="census_syncruns",
            pipelines_dir=str(tmp_path / "dlt_data" / "pipelines"),
            destination=dlt.destinations.duckdb(str(tmp_path / "census_syncruns.duckdb")),
            dataset_name="census",
        )
        killed.extract(census_source(base_url=sim.base_url, api_key=KEY))  # then "killed"
        assert killed.list_extracted_load_packages()
        result = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_value(result.stdout, "runs new") == 180
    assert summary_value(result.stdout, "failed runs seen") == failed
    assert summary_value(result.stdout, "syncs") == 3
    assert_exact(tmp_path / "census_syncruns.duckdb", world)


# item 17: the filesystem destination says once that it appends


def test_the_filesystem_destination_says_once_that_it_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = CensusWorld(seed=3, sync_run_counts=(20, 30))
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "bucket").as_uri())
    with CensusSimulator(world, token=KEY) as sim:
        results = []
        for _ in range(2):
            results.append(
                syncruns("run", "--base-url", sim.base_url, "--destination", "filesystem",
                         cwd=tmp_path)
            )  # fmt: skip
            world.advance(seconds=3600)
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Falling back" not in result.stderr and "hard_delete" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line]
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("syncruns: note: this destination cannot merge")
        assert "sync_runs" in lines[0] and "newest _dlt_load_id per id" in lines[0]
