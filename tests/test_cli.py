"""The `syncruns` console script, run as a real process against the simulator."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from census_simulator import CensusSimulator, Response, World
from tests.conftest import TOKEN

# the console script installed beside this interpreter (the venv need not be activated)
SYNCRUNS = Path(sys.executable).parent / "syncruns"


def syncruns(
    *args: str, cwd: Path, token: str | None = TOKEN, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        DLT_DATA_DIR=str(cwd / "dlt_data"),
        RUNTIME__REQUEST_MAX_ATTEMPTS="2",
        RUNTIME__REQUEST_BACKOFF_FACTOR="0",
    )
    if token is not None:
        env["SOURCES__CENSUS__API_KEY"] = token
    return subprocess.run(
        [str(SYNCRUNS), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def summary_value(output: str, label: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith(label + " "))
    return int(line.split()[-1].replace(",", ""))


def test_demo_loads_and_prints_a_summary(tmp_path: Path) -> None:
    result = syncruns("demo", "--quiet", cwd=tmp_path, token=None)
    assert result.returncode == 0, result.stderr
    assert "syncruns demo (full load): done" in result.stdout
    assert "demo (incremental, one simulated hour later)" in result.stdout
    assert summary_value(result.stdout, "runs new") > 0
    assert (tmp_path / "census_syncruns_demo.duckdb").exists()
    # the demo starts afresh each time and its world is seeded: same figures again
    again = syncruns("demo", "--quiet", cwd=tmp_path, token=None)
    assert again.returncode == 0, again.stderr
    assert without_elapsed(again.stdout) == without_elapsed(result.stdout)


def without_elapsed(output: str) -> list[str]:
    return [line for line in output.splitlines() if not line.startswith("elapsed")]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, CensusSimulator]]:
    world = World(seed=5, sync_run_counts=(3, 120, 0, 40))
    sim = CensusSimulator(world, token=TOKEN).start()
    yield world, sim
    sim.stop()


def test_run_then_incremental_run(tmp_path: Path, served: tuple[World, CensusSimulator]) -> None:
    world, sim = served
    first = syncruns("run", "--quiet", "--base-url", sim.base_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    total = len(world.ground_truth_runs())
    assert summary_value(first.stdout, "runs new") == total
    assert summary_value(first.stdout, "syncs") == 4
    failed = sum(run["status"] == "failed" for run in world.ground_truth_runs())
    assert summary_value(first.stdout, "failed runs seen") == failed

    world.advance(seconds=3600, new_runs_per_sync=2, finish_open=False)
    second = syncruns("run", "--quiet", "--base-url", sim.base_url, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert summary_value(second.stdout, "runs new") == 8
    assert summary_value(second.stdout, "runs in table") == total + 8
    assert (tmp_path / "census_syncruns.duckdb").exists()


def test_backfill_with_sync_filter(tmp_path: Path, served: tuple[World, CensusSimulator]) -> None:
    world, sim = served
    sync_id = world.syncs[1]["id"]
    runs = world.runs_of(sync_id)
    start, end = runs[10]["created_at"], runs[30]["created_at"]
    result = syncruns(
        "backfill",
        "--quiet",
        "--base-url",
        sim.base_url,
        "--sync-id",
        str(sync_id),
        "--start",
        start,
        "--end",
        end,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert summary_value(result.stdout, "runs new") == 20


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["backfill", "--start", "last tuesday"],
            2,
            "--start 'last tuesday' is not an ISO-8601",
        ),
        (["backfill", "--start", "2024-02-01", "--end", "2024-01-01"], 2, "is not after"),
        (["run", "--region", "mars"], 2, "Unknown region 'mars'"),
        (["run", "--base-url", "http://example.com/api/v1"], 2, "plain http://"),
        (["run", "--sync-id", "abc"], 2, "sync id 'abc' is not a numeric"),
        (["run", "--dataset", "bad-name!"], 2, "--dataset 'bad-name!' is not a valid"),
        (["run", "--dataset", "census_syncruns"], 2, "equals the DuckDB file name"),
        (["run", "--duckdb-path", "/nonexistent/dir/x.duckdb"], 2, "does not exist"),
        (["run", "--destination", "postgres"], 2, "postgres"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = syncruns(*args, "--quiet", cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_missing_token_exits_2(tmp_path: Path) -> None:
    result = syncruns("run", "--quiet", cwd=tmp_path, token=None)
    assert result.returncode == 2
    assert "sources.census.api_key" in result.stderr
    assert "SOURCES__CENSUS__API_KEY" in result.stderr


def test_rejected_token_exits_3_without_leaking_it(
    tmp_path: Path, served: tuple[World, CensusSimulator]
) -> None:
    _, sim = served
    wrong = "wrong-token-77d0c1"
    result = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path, token=wrong)
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("syncruns: error: Census rejected the API token (401)")
    assert "sources.census.api_key" in lines[-1]
    assert wrong not in result.stderr + result.stdout
    debug = syncruns("run", "--debug", "--base-url", sim.base_url, cwd=tmp_path, token=wrong)
    assert debug.returncode == 3 and "Traceback" in debug.stderr
    assert wrong not in debug.stderr + debug.stdout


def test_unreachable_api_exits_4(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/v1"
    result = syncruns("run", "--quiet", "--base-url", url, cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert "Cannot reach the Census API at 127.0.0.1" in result.stderr


def test_progress_shows_only_for_long_steps(
    tmp_path: Path, served: tuple[World, CensusSimulator], capsys: pytest.CaptureFixture[str]
) -> None:
    import dlt

    from pipelines.progress import LongWorkProgress
    from tests.conftest import source_for

    _, sim = served
    for after, expect_output in ((60.0, False), (0.0, True)):
        pipeline = dlt.pipeline(
            pipeline_name=f"progress_{int(after)}",
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(str(tmp_path / f"p{int(after)}.duckdb")),
            dataset_name="census",
            progress=LongWorkProgress(after=after),
        )
        pipeline.run(source_for(sim))
        err = capsys.readouterr().err
        assert ("syncruns: extract: done in " in err) is expect_output
        assert ("syncruns: load: done in " in err) is expect_output


def test_partial_outage_exits_5_and_names_the_sync(tmp_path: Path) -> None:
    from tests.scripted import Scripted, ScriptedSimulator

    world = World(seed=5, sync_run_counts=(3, 120, 40))
    bad = world.syncs[1]["id"]
    fault = Scripted(
        lambda e: e.path.endswith(f"/syncs/{bad}/sync_runs"), Response(503, b"{}"), None
    )
    with ScriptedSimulator(world, fault) as sim:
        first = syncruns("run", "--quiet", "--base-url", sim.base_url, cwd=tmp_path)
        assert first.returncode == 5, first.stderr
        assert "syncs FAILED" in first.stdout
        assert f"sync {bad}: Census API kept answering 503" in first.stdout
        fault.times = 0
        second = syncruns("run", "--quiet", "--base-url", sim.base_url, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert summary_value(second.stdout, "runs in table") == len(world.ground_truth_runs())


def test_a_broken_api_promise_is_named_in_the_summary(tmp_path: Path) -> None:
    from census_simulator import Quirks

    world = World(seed=5, sync_run_counts=(3, 120, 0, 40))
    with CensusSimulator(world, token=TOKEN, quirks=Quirks(ignore_order=True)) as sim:
        result = syncruns("run", "--quiet", "--base-url", sim.base_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert summary_value(result.stdout, "runs new") == len(world.ground_truth_runs())
    lines = result.stdout.splitlines()
    start = lines.index("The API broke a promise the reader relies on (worked around, exact):")
    named = [line for line in lines[start + 1 :] if line.startswith("  sync ")]
    assert len(named) == 3  # the syncs with more than one run
    assert all("did not come newest first, as order=desc asks" in line for line in named)
    assert all(line.endswith("read in full, cursor kept") for line in named)
