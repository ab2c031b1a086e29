"""Issue 15, items 6 and 8: Ctrl-C, SIGTERM and a full disk end in one line and a documented
exit code (README "Command line"), leave nothing the next run cannot use, and the next run ends
exact against the simulator's ground truth. The CLI runs as a real process, signals are real,
the full disk is a real small tmpfs."""

import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from census_simulator import CensusSimulator, World
from pipelines.exit_codes import ExitCode, classify
from tests.conftest import TOKEN
from tests.crashing import assert_exact, cli_env, committed_cursors
from tests.test_cli import SYNCRUNS

RUN_COUNTS = (0, 1, 150, 900, 2500, 40, 7, 333)
BIG_RUN_COUNTS = (*RUN_COUNTS, 20000)  # ~2.5 MB extracted: more than the small disks hold
PIPELINE = "census_syncruns"
NOTHING_COMMITTED = (
    "syncruns: interrupted during extract: nothing was committed; "
    "the next run starts from the same cursors"
)
PACKAGE_KEPT = (
    "syncruns: interrupted during load: the load package is kept and the next run finishes it"
)
FORCED = (
    "syncruns: interrupted again: stopped at once, without cleaning up; "
    "the next run finishes or redoes what this one left"
)


def start(sim: CensusSimulator, workdir: Path, *flags: str, **env: str) -> subprocess.Popen[str]:
    """`syncruns run` against the simulator, as a real process."""
    return subprocess.Popen(
        [str(SYNCRUNS), "run", "--quiet", "--base-url", sim.base_url, *flags],
        cwd=workdir,
        env={**cli_env(workdir), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Exit code and stderr of a started run."""
    _, stderr = process.communicate(timeout=240)
    return process.returncode, stderr


def calm_run(sim: CensusSimulator, workdir: Path, *flags: str, **env: str) -> str:
    """A run that must succeed; returns its stderr."""
    code, stderr = finish(start(sim, workdir, *flags, **env))
    assert code == 0, stderr
    return stderr


def wait_until(process: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    """Poll `ready` every 2 ms while the process runs (fails if it ends first)."""
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None, f"the run ended first: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.002)


def working_dir(workdir: Path) -> Path:
    return workdir / "dlt_data" / "pipelines" / PIPELINE


def listing(folder: Path) -> list[str]:
    """Every file and folder under `folder`, relative, sorted."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


CLEAN_NORMALIZE = [".version", "extracted"]  # what a run that ended leaves in normalize/


def the_line(stderr: str) -> str:
    """stderr is exactly one line (no traceback, no dlt log lines): that line."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def table_state(db: Path) -> tuple[Any, ...]:
    """Rows, newest load id and committed cursors: what a commit would change."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT count(*), max(_dlt_load_id) FROM census.sync_runs").fetchone()
    return rows, committed_cursors(db)


def runs_requested(sim: CensusSimulator) -> int:
    return sum(1 for entry in sim.requests if entry.path.endswith("/sync_runs"))


# ------------------------------------------------------------------ item 6: Ctrl-C, SIGTERM


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_extract_commits_nothing_and_leaves_no_partial_files(
    tmp_path: Path, signum: int, code: int
) -> None:
    world = World(seed=4, sync_run_counts=RUN_COUNTS)
    db = tmp_path / f"{PIPELINE}.duckdb"
    with CensusSimulator(world, token=TOKEN, latency=0.02) as sim:
        calm_run(sim, tmp_path)
        world.advance(seconds=3600, new_runs_per_sync=150)
        before = table_state(db)
        requests = len(sim.requests)
        process = start(sim, tmp_path)
        wait_until(process, lambda: len(sim.requests) >= requests + 15)  # mid-extract
        process.send_signal(signum)
        exit_code, stderr = finish(process)
        assert (exit_code, the_line(stderr)) == (code, NOTHING_COMMITTED)
        assert listing(working_dir(tmp_path) / "normalize") == CLEAN_NORMALIZE
        assert table_state(db) == before
        calm_run(sim, tmp_path)
    assert_exact(db, world)


def test_ctrl_c_during_load_keeps_the_package_and_the_next_run_finishes_it(
    tmp_path: Path,
) -> None:
    world = World(seed=5, sync_run_counts=RUN_COUNTS)
    db = tmp_path / f"{PIPELINE}.duckdb"
    normalized = working_dir(tmp_path) / "load" / "normalized"
    with CensusSimulator(world, token=TOKEN) as sim:
        # one load job at a time: the signal comes while the first job runs, others wait
        process = start(sim, tmp_path, LOAD__WORKERS="1")
        wait_until(process, lambda: any(normalized.glob("*/started_jobs/*")))
        process.send_signal(signal.SIGINT)
        exit_code, stderr = finish(process)
        assert (exit_code, the_line(stderr)) == (130, PACKAGE_KEPT)
        kept = [package.name for package in normalized.iterdir()]
        assert len(kept) == 1 and any((normalized / kept[0] / "new_jobs").iterdir())
        assert listing(working_dir(tmp_path) / "normalize") == CLEAN_NORMALIZE
        stderr = calm_run(sim, tmp_path)
        assert "finishing the load an interrupted run left behind" in stderr
    assert_exact(db, world)


def test_ctrl_c_after_the_load_is_committed_says_how_many_runs_loaded(tmp_path: Path) -> None:
    world = World(seed=6, sync_run_counts=RUN_COUNTS)
    db = tmp_path / f"{PIPELINE}.duckdb"
    loaded = working_dir(tmp_path) / "load" / "loaded"
    with CensusSimulator(world, token=TOKEN) as sim:
        process = start(sim, tmp_path)
        wait_until(process, lambda: loaded.is_dir() and any(loaded.iterdir()))
        process.send_signal(signal.SIGINT)  # health views and the summary are still to come
        exit_code, stderr = finish(process)
        runs = len(world.ground_truth_runs())
        assert (exit_code, the_line(stderr)) == (
            130,
            f"syncruns: interrupted after the load was committed: {runs:,} runs loaded",
        )
        assert_exact(db, world)  # committed means all of it
        world.advance(seconds=3600, new_runs_per_sync=20)
        calm_run(sim, tmp_path)
    assert_exact(db, world)


def last_job_running(package_folder: Path) -> bool:
    """The package's last load job (a merge, .sql) runs and none waits."""
    for package in package_folder.glob("*"):
        started = list((package / "started_jobs").glob("*.sql"))
        if started and not any((package / "new_jobs").glob("*")):
            return True
    return False


def test_ctrl_c_during_the_last_load_job_stops_right_after_it(tmp_path: Path) -> None:
    world = World(seed=8, sync_run_counts=RUN_COUNTS)
    db = tmp_path / f"{PIPELINE}.duckdb"
    normalized = working_dir(tmp_path) / "load" / "normalized"
    with CensusSimulator(world, token=TOKEN) as sim:
        process = start(sim, tmp_path, LOAD__WORKERS="1")
        wait_until(process, lambda: last_job_running(normalized))
        # dlt lets the job finish, commits the package, and would go on as if not interrupted
        process.send_signal(signal.SIGINT)
        exit_code, stderr = finish(process)
        runs = len(world.ground_truth_runs())
        assert (exit_code, the_line(stderr)) == (
            130,
            f"syncruns: interrupted after the load was committed: {runs:,} runs loaded",
        )
        assert_exact(db, world)
        calm_run(sim, tmp_path)
    assert_exact(db, world)


def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    world = World(seed=7, sync_run_counts=(150, 150, 150))
    db = tmp_path / f"{PIPELINE}.duckdb"
    with CensusSimulator(world, token=TOKEN, latency=3.0) as sim:
        process = start(sim, tmp_path)
        # with a request of each sync in flight (3 s each), the first Ctrl-C waits for them
        wait_until(process, lambda: runs_requested(sim) >= 3)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        forced = time.monotonic()
        process.send_signal(signal.SIGINT)
        exit_code, stderr = finish(process)
        assert time.monotonic() - forced < 1.5, "the second Ctrl-C did not stop it at once"
        assert (exit_code, the_line(stderr)) == (130, FORCED)
        sim.latency = 0.0
        calm_run(sim, tmp_path)
        assert listing(working_dir(tmp_path) / "normalize") == CLEAN_NORMALIZE
    assert_exact(db, world)


# ------------------------------------------------------------------- item 8: a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount real tmpfs file systems of a given size (needs root or CAP_SYS_ADMIN)."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        target = tmp_path / f"disk{len(mounts)}"
        target.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if not shutil.which("mount") or result.returncode != 0:
            pytest.skip(
                "a full disk needs a small tmpfs, and `mount -t tmpfs` needs root or "
                f"CAP_SYS_ADMIN: {result.stderr.strip()}"
            )
        mounts.append(target)
        return target

    yield mount
    for target in mounts:
        subprocess.run(["umount", "-l", str(target)], check=False)


def make_room(disk: Path) -> None:
    """Free space: grow the tmpfs (its files stay)."""
    subprocess.run(["mount", "-o", "remount,size=512m", str(disk)], check=True)


def test_a_full_pipeline_folder_is_named_in_one_line(
    tmp_path: Path, small_disk: Callable[[str], Path]
) -> None:
    disk = small_disk("1m")
    world = World(seed=4, sync_run_counts=BIG_RUN_COUNTS)
    db = tmp_path / f"{PIPELINE}.duckdb"
    data_dir = disk / "dlt_data"
    folder = data_dir / "pipelines" / PIPELINE
    with CensusSimulator(world, token=TOKEN) as sim:
        code, stderr = finish(start(sim, tmp_path, DLT_DATA_DIR=str(data_dir)))
        assert (code, the_line(stderr)) == (
            ExitCode.NO_SPACE,
            f"syncruns: error: no space left on the device of the pipeline's working folder "
            f"'{folder}' (under DLT_DATA_DIR): free space there, then run again; "
            "nothing was committed and the next run starts from the same cursors",
        )
        make_room(disk)
        calm_run(sim, tmp_path, DLT_DATA_DIR=str(data_dir))
        assert listing(folder / "normalize") == CLEAN_NORMALIZE  # the partial extract is gone
    assert_exact(db, world)


def test_a_full_duckdb_disk_is_named_in_one_line(
    tmp_path: Path, small_disk: Callable[[str], Path]
) -> None:
    disk = small_disk("3m")
    world = World(seed=4, sync_run_counts=BIG_RUN_COUNTS)
    db = disk / f"{PIPELINE}.duckdb"
    with CensusSimulator(world, token=TOKEN) as sim:
        code, stderr = finish(start(sim, tmp_path, "--duckdb-path", str(db)))
        assert (code, the_line(stderr)) == (
            ExitCode.NO_SPACE,
            f"syncruns: error: no space left on the device of the DuckDB file '{db}' (its .wal): "
            "free space there, then run again; the load package is kept and the next run "
            "finishes it",
        )
        make_room(disk)
        calm_run(sim, tmp_path, "--duckdb-path", str(db))
    assert_exact(db, world)


def full_duckdb_temp_folder_error(folder: Path, **settings: str) -> duckdb.Error:
    """The error DuckDB raises when its spill to `folder` finds the device full."""
    config = {"temp_directory": str(folder), "memory_limit": "30MB", "threads": "1"}
    with (
        duckdb.connect(config={**config, "preserve_insertion_order": "false", **settings}) as con,
        pytest.raises(duckdb.Error) as raised,
    ):
        con.execute(
            "CREATE TABLE t AS SELECT range AS a, md5(range::VARCHAR) AS b FROM range(3000000)"
        )
        con.execute("SELECT count(*) FROM (SELECT * FROM t ORDER BY b)").fetchall()
    return raised.value


def test_duckdb_finding_its_temp_folder_full_is_the_same_exit_code(
    small_disk: Callable[[str], Path],
) -> None:
    folder = small_disk("1m")
    # DuckDB writes until the device is full: an IOException "No space left on device"
    error = full_duckdb_temp_folder_error(folder, max_temp_directory_size="1GB")
    assert isinstance(error, duckdb.IOException)
    assert classify(error, "census_syncruns.duckdb") == (
        ExitCode.NO_SPACE,
        f"no space left on the device of DuckDB's temp folder '{folder}' (DuckDB spills there "
        "beyond --duckdb-memory-limit): free space there, then run again; nothing was "
        "committed and the next run starts from the same cursors",
    )
    # by default DuckDB checks the free space first and calls it out of memory
    error = full_duckdb_temp_folder_error(folder)
    assert classify(error, "census_syncruns.duckdb")[0] == ExitCode.NO_SPACE
