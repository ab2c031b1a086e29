"""Issue 15: what a scheduled job meets in production ends in one clear line and the
documented exit code (README "Command line"), with no traceback; run as a real process."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from census_simulator import CensusSimulator
from census_simulator import World as CensusWorld
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld

SYNCRUNS = Path(sys.executable).parent / "syncruns"
KEY = "operations-key-7c2d"
ENV_KEYS = {
    "census": "SOURCES__CENSUS__API_KEY",
    "hightouch": "SOURCES__HIGHTOUCH__API_KEY",
    "files_com": "SOURCES__FILES_COM__API_KEY",
}


def syncruns(
    *args: str, cwd: Path, source: str = "census", key: str = KEY
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(
        DLT_DATA_DIR=str(cwd / "dlt_data"),
        RUNTIME__REQUEST_MAX_ATTEMPTS="2",
        RUNTIME__REQUEST_BACKOFF_FACTOR="0",
    )
    env[ENV_KEYS[source]] = key
    return subprocess.run(
        [str(SYNCRUNS), *args, "--source", source, "--quiet"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def summary_value(output: str, label: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith(label + " "))
    return int(line.split()[-1].replace(",", ""))


def assert_one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("syncruns: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# item 2: an empty workspace (no syncs yet) loads, and says 0 syncs


@pytest.mark.parametrize("source", ["census", "hightouch"])
def test_an_empty_workspace_loads_on_the_first_run(tmp_path: Path, source: str) -> None:
    simulator: CensusSimulator | HightouchSimulator
    if source == "census":
        simulator = CensusSimulator(CensusWorld(seed=3, sync_run_counts=()), token=KEY)
    else:
        simulator = HightouchSimulator(HightouchWorld(seed=3, sync_run_counts=()), token=KEY)
    with simulator as sim:
        for _ in range(2):  # the first run (nothing in the destination yet) and the next
            result = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path, source=source)
            assert result.returncode == 0, result.stderr
            assert "Traceback" not in result.stderr
            assert summary_value(result.stdout, "syncs") == 0
            assert summary_value(result.stdout, "runs in table") == 0


# item 3: a corrupt DuckDB file is named as such, not as a memory-limit problem


def corrupt_duckdb_file(path: Path, how: str) -> None:
    """`garbage`: not a DuckDB file at all; `checksum`: a DuckDB file with a damaged block."""
    if how == "garbage":
        path.write_bytes(b"this is not a database\n" * 400)
        return
    with duckdb.connect(str(path)) as connection:
        connection.sql("CREATE TABLE t AS SELECT range AS i FROM range(10000)")
    data = bytearray(path.read_bytes())
    for header in (4096, 8192):  # both database headers: DuckDB checks the newer on opening
        data[header + 100 : header + 164] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "checksum"])
def test_a_corrupt_duckdb_file_is_named_not_the_memory_limit(tmp_path: Path, how: str) -> None:
    corrupt_duckdb_file(tmp_path / "broken.duckdb", how)
    with CensusSimulator(CensusWorld(seed=3, sync_run_counts=(2, 5)), token=KEY) as sim:
        result = syncruns(
            "run", "--base-url", sim.base_url, "--duckdb-path", "broken.duckdb", cwd=tmp_path
        )
    assert result.returncode == 2, result.stderr
    line = assert_one_line(result)
    assert "broken.duckdb" in line
    assert "not a readable DuckDB database" in line
    assert "--duckdb-path" in line
    assert "memory" not in line


def test_a_bad_memory_limit_still_names_the_memory_limit(tmp_path: Path) -> None:
    with CensusSimulator(CensusWorld(seed=3, sync_run_counts=(2, 5)), token=KEY) as sim:
        result = syncruns(
            "run", "--base-url", sim.base_url, "--duckdb-memory-limit", "lots", cwd=tmp_path
        )
    assert result.returncode == 2, result.stderr
    assert "--duckdb-memory-limit" in assert_one_line(result)


# item 9: output piped into `head` that closes early ends quietly


@pytest.mark.parametrize("command", ["demo", "report"])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, command: str) -> None:
    if command == "report":  # something to report on
        with CensusSimulator(CensusWorld(seed=3, sync_run_counts=(40,) * 30), token=KEY) as sim:
            loaded = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path)
        assert loaded.returncode == 0, loaded.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(DLT_DATA_DIR=str(tmp_path / "dlt_data"), SOURCES__CENSUS__API_KEY=KEY)
    # like `syncruns report | head -0`: the reader has gone before the first line is written
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [str(SYNCRUNS), command, "--quiet"],
            cwd=tmp_path, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True,
            timeout=180, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "BrokenPipe" not in result.stderr
    assert result.stderr.strip() == ""


def test_a_pipe_read_in_part_ends_quietly(tmp_path: Path) -> None:
    """`syncruns demo | head -1` through a shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(DLT_DATA_DIR=str(tmp_path / "dlt_data"))
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{SYNCRUNS}' demo --quiet | head -1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("syncruns demo")
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


# item 13: a token pasted with its `Bearer ` prefix is told to drop it


@pytest.mark.parametrize("source", ["census", "hightouch", "files_com"])
def test_a_bearer_prefix_is_told_to_drop(tmp_path: Path, source: str) -> None:
    secret = "s3cr3t-token-value"
    result = syncruns(
        "run", "--base-url", "http://127.0.0.1:9", cwd=tmp_path, source=source,
        key=f"Bearer {secret}",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    line = assert_one_line(result)
    assert "Bearer" in line and "prefix" in line
    assert ENV_KEYS[source] in line
    assert "blanks" not in line
    assert secret not in result.stderr + result.stdout
