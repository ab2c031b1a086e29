"""Issue 15 item 4: `report` and `check` only read. They work on a DuckDB file that another
process holds open read-only (a notebook, a BI tool), on a read-only mount and on a read-only
PostgreSQL session, print exactly what they print on a writable copy, and leave that copy's
bytes as they were. A writer holding the file (a `syncruns run` mid-load) is one line and
exit 1, at once. Real processes, simulators and files throughout.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from census_simulator import CensusSimulator
from census_simulator import World as CensusWorld
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld

SYNCRUNS = Path(sys.executable).parent / "syncruns"
DSN = os.environ.get("SYNCRUNS_TEST_POSTGRES_DSN")
KEY = "readonly-key-41a7"
DB = Path("data") / "syncruns.duckdb"  # relative to each reader's own folder
COMMANDS = {
    "report": ("report",),
    "report --html": ("report", "--html", "report.html"),
    "check": ("check", "--max-failure-rate", "20%", "--stale-after", "24h"),
    "check --json": ("check", "--json", "--max-failure-rate", "20%", "--stale-after", "24h"),
}
CHECKED_AT = re.compile(r'"checked_at": "([^"]+)"')
# what DuckDB needs to hold a file the way a reader or a writer does, in another process
HOLDER = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'r'); "
    "con.sql('SELECT COUNT(*) FROM census.sync_runs').fetchall(); print('open', flush=True); "
    "sys.stdin.read()"
)


Reader = tuple[list[str], Path, dict[str, str]]  # argv, folder, environment


def command(
    *args: str, wrap: Sequence[str] = (), where: Sequence[str] = ("--duckdb-path", str(DB))
) -> list[str]:
    return [*wrap, str(SYNCRUNS), *args, *where, "--quiet"]


def environment(cwd: Path, source: str = "census", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(DLT_DATA_DIR=str(cwd / "dlt_data"), RUNTIME__REQUEST_BACKOFF_FACTOR="0", **extra)
    env[f"SOURCES__{source.upper()}__API_KEY"] = KEY
    return env


def run(argv: list[str], cwd: Path, source: str = "census") -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=environment(cwd, source), capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip


def days_old(world_type: Any, seed: int, counts: tuple[int, ...]) -> Any:
    """A seeded world whose history ends about 2.5 days ago: every `ago` of the report is in
    days, so two readers a second apart print the same."""
    world = world_type(seed=seed, sync_run_counts=counts)
    end = datetime.now(UTC) - timedelta(days=2, hours=12)
    start = (end - (world.now - world.start)).replace(minute=0, second=0, microsecond=0)
    return world_type(seed=seed, sync_run_counts=counts, start=start)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Census and Hightouch loaded by `syncruns run` into one DuckDB file (views made by run)."""
    cwd = tmp_path_factory.mktemp("loaded")
    (cwd / DB.parent).mkdir()
    census = days_old(CensusWorld, 31, (0, 3, 40, 90))
    hightouch = days_old(HightouchWorld, 31, (5, 60))
    with CensusSimulator(census, token=KEY) as c, HightouchSimulator(hightouch, token=KEY) as h:
        for source, url in (("census", c.base_url), ("hightouch", h.base_url)):
            result = run(command("run", "--source", source, "--base-url", url), cwd, source)
            assert result.returncode == 0, result.stderr
    assert not (cwd / f"{DB}.wal").exists()  # checkpointed: a copy of the file is all of it
    return cwd / DB


def reader_folder(loaded: Path, folder: Path) -> Path:
    """A folder of its own (dlt state, output) with a copy of the loaded file in data/."""
    (folder / DB.parent).mkdir(parents=True)
    shutil.copyfile(loaded, folder / DB)
    return folder


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def held(path: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with `path` open, read-only (mode "r") or read-write ("w"), until exit."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        yield holder
        assert holder.poll() is None, "the holder let go of the file during the test"
    finally:
        holder.communicate(timeout=30)


@contextmanager
def read_only_mount(folder: Path) -> Iterator[list[str]]:
    """A command prefix under which `folder` cannot be written.

    As root (who ignores file modes, and is what CI runs as) it is a read-only bind mount in a
    private mount namespace: the kernel's EROFS, what a read-only volume gives. Any other user
    is refused by the modes: the file 0o444 in a 0o555 folder.
    """
    if os.geteuid() != 0:
        (folder / DB.name).chmod(0o444)
        folder.chmod(0o555)
        try:
            yield []
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("unshare") is None:
        pytest.fail("running as root without util-linux `unshare`: no read-only mount to test")
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    yield ["unshare", "--mount", "sh", "-c", script, "sh", str(folder)]


def assert_not_writable(folder: Path, wrap: list[str]) -> None:
    """Guard: the test's read-only folder really refuses writes (else it proves nothing)."""
    probe = subprocess.run([*wrap, "touch", str(folder / "probe")], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert probe.returncode != 0 and not (folder / "probe").exists(), probe.stderr
    assert "Read-only file system" in probe.stderr or "Permission denied" in probe.stderr


@contextmanager
def made_read_only(how: str, folder: Path) -> Iterator[list[str]]:
    """The reader's file as `how` says; yields the prefix to run the reader's command with."""
    if how == "held open read-only elsewhere":
        with held(folder / DB, "r"):
            yield []
        return
    with read_only_mount(folder / DB.parent) as wrap:
        assert_not_writable(folder / DB.parent, wrap)
        yield wrap


def readers(writable: Path, read_only: Path, args: Sequence[str], wrap: list[str]) -> list[Reader]:
    """The command on the writable copy, and under `wrap` on the read-only one."""
    return [
        (command(*args), writable, environment(writable)),
        (command(*args, wrap=wrap), read_only, environment(read_only)),
    ]


def side_by_side(
    both: list[Reader],
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], datetime, datetime]:
    """Both readers at once, within one minute of the clock (the report prints the minute):
    a pair that crossed into the next minute runs again."""
    for _ in range(3):
        started = datetime.now(UTC)
        procs = [
            subprocess.Popen(
                argv, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for argv, cwd, env in both
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        ended = datetime.now(UTC)
        if started.replace(second=0, microsecond=0) == ended.replace(second=0, microsecond=0):
            return results[0], results[1], started, ended
    pytest.fail("the two readers never ran within one minute")


def without_clock(output: str, started: datetime, ended: datetime) -> str:
    """check --json: `checked_at` is each process's own clock; checked, then blanked."""
    for stamp in CHECKED_AT.findall(output):
        assert started <= datetime.fromisoformat(stamp) <= ended
    return CHECKED_AT.sub('"checked_at": "-"', output)


@pytest.mark.parametrize("how", ["held open read-only elsewhere", "read-only mount"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_report_and_check_read_a_read_only_file_as_a_writable_copy(
    loaded: Path, tmp_path: Path, how: str, name: str
) -> None:
    writable = reader_folder(loaded, tmp_path / "writable")
    read_only = reader_folder(loaded, tmp_path / "read_only")
    before = digest(writable / DB)
    args = COMMANDS[name]
    with made_read_only(how, read_only) as wrap:
        mine, theirs, started, ended = side_by_side(readers(writable, read_only, args, wrap))

    expected_code = 6 if name.startswith("check") else 0
    assert (mine.returncode, mine.stderr) == (expected_code, ""), mine.stderr
    assert (theirs.returncode, theirs.stderr) == (expected_code, ""), theirs.stderr
    assert without_clock(theirs.stdout, started, ended) == without_clock(
        mine.stdout, started, ended
    )
    if name == "report --html":
        page = (read_only / "report.html").read_text(encoding="utf-8")
        assert page == (writable / "report.html").read_text(encoding="utf-8")
        assert "hightouch" in page  # the other source loaded into the file shows too
    else:
        assert "hightouch" in mine.stdout  # (--stale-after 24h: every sync is listed by check)
    assert digest(writable / DB) == before  # reading wrote nothing, not even the views
    assert not (writable / f"{DB}.wal").exists()


@pytest.mark.parametrize("name", ["report", "check --json"])
def test_a_writer_holding_the_file_is_one_line_and_exit_1_at_once(
    loaded: Path, tmp_path: Path, name: str
) -> None:
    folder = reader_folder(loaded, tmp_path / "reader")
    with held(folder / DB, "w"):  # the lock a `syncruns run` holds while it loads
        started = time.monotonic()
        result = run(command(*COMMANDS[name]), folder)
        elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "syncruns: error: The DuckDB file is in use by another process (IO Error: Could not set "
        f'lock on file "{folder / DB}"'
    ), line
    assert line.endswith("wait for that process to finish or close it, then run again")
    assert elapsed < 30  # no waiting for the lock (about 2 s, the start of the process)


@pytest.mark.parametrize("name", ["report", "check --json"])
def test_a_dataset_that_is_not_there_is_named_not_read_around(
    loaded: Path, tmp_path: Path, name: str
) -> None:
    """The views of a dataset show the other sources too, but only once the dataset exists:
    a mistyped --dataset is bad input (exit 2), not the other sources' health."""
    folder = reader_folder(loaded, tmp_path / "reader")
    result = run(command(*COMMANDS[name], "--dataset", "censsus"), folder)

    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr == (
        "syncruns: error: Dataset 'censsus' has no loaded sync runs yet: "
        "run `syncruns run` (or `syncruns demo`) first\n"
    )


def test_a_read_that_spills_to_disk_works_on_a_read_only_mount(
    loaded: Path, tmp_path: Path
) -> None:
    """DuckDB spills a large read next to its file (`<file>.tmp`), which a read-only mount
    refuses. About 400,000 runs spill under a 160MB memory limit, and fewer under the default
    64MB (measured at 160MB: without the spill folder moved, this read fails with "Failed to
    create directory")."""
    big = tmp_path / "big.duckdb"
    shutil.copyfile(loaded, big)
    with duckdb.connect(str(big)) as db:  # each census run 3,100 times, days apart
        db.execute(
            "INSERT INTO census.sync_runs BY NAME SELECT r.* REPLACE ("
            "r.id + k * 10000000 AS id, r.created_at - to_days(CAST(k % 25 AS INTEGER)) AS "
            "created_at, r.completed_at - to_days(CAST(k % 25 AS INTEGER)) AS completed_at) "
            "FROM census.sync_runs AS r, range(1, 3100) AS t(k)"
        )
        runs, most = db.execute(
            "SELECT SUM(n), MAX(n) FROM "
            "(SELECT COUNT(*) AS n FROM census.sync_runs GROUP BY sync_id) AS per_sync"
        ).fetchall()[0]
    assert runs > 400_000
    writable = reader_folder(big, tmp_path / "writable")
    read_only = reader_folder(big, tmp_path / "read_only")
    with made_read_only("read-only mount", read_only) as wrap:
        mine, theirs, _, _ = side_by_side(readers(writable, read_only, ["report"], wrap))

    assert (mine.returncode, mine.stderr) == (0, ""), mine.stderr
    assert (theirs.returncode, theirs.stderr) == (0, ""), theirs.stderr
    assert theirs.stdout == mine.stdout
    assert f" {most:,} " in mine.stdout  # the largest sync's runs, all of them read


def read_only_dsn(dsn: str) -> str:
    """The DSN with every transaction read-only, as on a hot standby (dlt passes `options` to
    libpq itself, so PGOPTIONS would not reach its sessions)."""
    return f"{dsn}{'&' if '?' in dsn else '?'}options=-cdefault_transaction_read_only%3Don"


@pytest.fixture(scope="module")
def on_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ...]]:
    """A days-old Census workspace loaded by `syncruns run` into a fresh PostgreSQL dataset
    (dropped afterwards); yields the destination flags that name it."""
    if not DSN:
        if os.environ.get("CI"):
            pytest.fail("SYNCRUNS_TEST_POSTGRES_DSN is not set: .ci/run starts PostgreSQL")
        pytest.skip("no PostgreSQL: set SYNCRUNS_TEST_POSTGRES_DSN (see .ci/postgres.sh)")
    dataset = f"syncruns_test_{uuid.uuid4().hex[:10]}"
    where = ("--destination", "postgres", "--dataset", dataset)
    cwd = tmp_path_factory.mktemp("postgres_loader")
    with CensusSimulator(days_old(CensusWorld, 43, (2, 30, 7)), token=KEY) as sim:
        loaded = subprocess.run(
            command("run", "--base-url", sim.base_url, where=where), cwd=cwd,
            env=environment(cwd, DESTINATION__POSTGRES__CREDENTIALS=DSN),
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    try:
        assert loaded.returncode == 0, loaded.stderr
        yield where
    finally:
        cleaner = dlt.pipeline(
            pipeline_name="readonly_cleanup",
            pipelines_dir=str(cwd / "cleanup"),
            destination=dlt.destinations.postgres(DSN),
            dataset_name=dataset,
        )
        with cleaner.sql_client() as client:
            for name in (dataset, f"{dataset}_staging"):
                client.execute_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_report_and_check_on_a_read_only_postgresql_session(
    tmp_path: Path, on_postgres: tuple[str, ...], name: str
) -> None:
    """A read replica (hot standby), or a role whose transactions are read-only: report and
    check need only SELECT, and print what they print on a writable session."""
    assert DSN is not None
    guard = dlt.pipeline(
        pipeline_name="readonly_guard",
        pipelines_dir=str(tmp_path / "guard"),
        destination=dlt.destinations.postgres(read_only_dsn(DSN)),
        dataset_name=on_postgres[-1],
    )
    with guard.sql_client() as client:  # the session really is read-only, the way dlt opens it
        assert client.execute_sql("SHOW transaction_read_only") == [("on",)]
    both: list[Reader] = []
    for folder, dsn in ((tmp_path / "writable", DSN), (tmp_path / "read_only", read_only_dsn(DSN))):
        folder.mkdir()
        env = environment(folder, DESTINATION__POSTGRES__CREDENTIALS=dsn)
        both.append((command(*COMMANDS[name], where=on_postgres), folder, env))

    mine, theirs, started, ended = side_by_side(both)

    expected_code = 6 if name.startswith("check") else 0
    assert (mine.returncode, mine.stderr) == (expected_code, ""), mine.stderr
    assert (theirs.returncode, theirs.stderr) == (expected_code, ""), theirs.stderr
    assert without_clock(theirs.stdout, started, ended) == without_clock(
        mine.stdout, started, ended
    )
    if name == "report --html":
        page = (tmp_path / "read_only" / "report.html").read_text(encoding="utf-8")
        assert page == (tmp_path / "writable" / "report.html").read_text(encoding="utf-8")
