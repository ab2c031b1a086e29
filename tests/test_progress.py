"""Issue 15 item 15: a long load shows syncs done of total, runs, requests, rate and time left on
stderr: in place on a terminal, as plain lines in a log; `--quiet` and short loads show none.

The CLI runs as a real process against a simulator with latency, with the documented
SYNCRUNS_PROGRESS_AFTER / SYNCRUNS_PROGRESS_PERIOD shortened so that a load of a few seconds
shows several updates.
"""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from census_simulator import CensusSimulator
from census_simulator import World as CensusWorld
from files_com_simulator import FilesComSimulator
from files_com_simulator import World as FilesComWorld
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld

SYNCRUNS = Path(sys.executable).parent / "syncruns"
KEY = "progress-key-4b1e"
SYNCS = 12
RUN_COUNTS = [180 + 10 * n for n in range(SYNCS)]  # 2-3 pages of 100 each
ENV_KEYS = {
    "census": "SOURCES__CENSUS__API_KEY",
    "hightouch": "SOURCES__HIGHTOUCH__API_KEY",
    "files_com": "SOURCES__FILES_COM__API_KEY",
}
FAST = {"SYNCRUNS_PROGRESS_AFTER": "0.3", "SYNCRUNS_PROGRESS_PERIOD": "0.3"}
NUMBER = r"\d{1,3}(?:,\d{3})*"
STEP_LINE = re.compile(r"syncruns: (extract|normalize|load): .+")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@contextmanager
def slow_simulator(source: str) -> Iterator[Any]:
    """A simulator of `source` answering each request after 0.1 s: a load of a few seconds."""
    simulator: Any
    if source == "census":
        simulator = CensusSimulator(CensusWorld(seed=3, sync_run_counts=RUN_COUNTS), KEY, 0.1)
    elif source == "hightouch":
        simulator = HightouchSimulator(HightouchWorld(3, RUN_COUNTS), KEY, latency=0.1)
    else:
        simulator = FilesComSimulator(FilesComWorld(3, RUN_COUNTS), KEY, latency=0.1)
    with simulator as sim:
        yield sim


def cli_env(cwd: Path, source: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "SYNCRUNS_"))}
    env.update(DLT_DATA_DIR=str(cwd / "dlt_data"), RUNTIME__DLTHUB_TELEMETRY="false")
    env[ENV_KEYS[source]] = KEY
    env[f"SOURCES__{source.upper()}__CONCURRENCY"] = "2"  # Files.com has one listing: unused
    env["SOURCES__FILES_COM__PER_PAGE"] = "100"
    env.update(extra)
    return env


def syncruns(
    *args: str, cwd: Path, source: str = "census", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(SYNCRUNS), *args, "--source", source],
        cwd=cwd, env=cli_env(cwd, source, env or {}), capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


def summary_value(output: str, label: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith(label + " "))
    return int(line.split()[-1].replace(",", ""))


def as_int(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.parametrize("source", ["census", "hightouch", "files_com"])
def test_a_long_load_logs_plain_progress_lines(tmp_path: Path, source: str) -> None:
    with slow_simulator(source) as sim:
        result = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path, source=source, env=FAST)
        requests = len(sim.requests)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(STEP_LINE.fullmatch(line) for line in lines), result.stderr
    runs = summary_value(result.stdout, "runs new")
    assert runs == sum(RUN_COUNTS)
    extract = [line for line in lines if line.startswith("syncruns: extract: ")]
    *updates, last = extract
    syncs = rf"syncs (?P<done>\d+)/{SYNCS} \((?P<percent>\d+)%\), " if source != "files_com" else ""
    update = re.compile(
        rf"syncruns: extract: {syncs}runs (?P<runs>{NUMBER})(?: \({NUMBER}/s\))?, "
        rf"requests (?P<requests>{NUMBER})(?P<left>, ~(?:\d+ s|\d+ min) left)?"
    )
    seen = [match.groupdict() for line in updates if (match := update.fullmatch(line))]
    assert len(seen) == len(updates) >= 2, result.stderr
    for counter in ("runs", "requests"):
        counts = [as_int(values[counter]) for values in seen]
        assert counts == sorted(counts), result.stderr
    if source != "files_com":  # syncs done of total, and the time left they tell
        done = [int(values["done"]) for values in seen]
        assert done == sorted(done) and done[-1] <= SYNCS, result.stderr
        assert all(int(v["percent"]) == int(v["done"]) * 100 // SYNCS for v in seen)
        assert any(values["left"] for values in seen), result.stderr
    total = f"syncs {SYNCS}/{SYNCS} (100%), " if source != "files_com" else ""
    assert re.fullmatch(
        rf"syncruns: extract: done in \d+ s: {re.escape(total)}"
        rf"runs {runs:,} \({NUMBER}/s\), requests {requests:,}",
        last,
    ), last


def test_quiet_silences_the_lines_a_long_load_shows(tmp_path: Path) -> None:
    with slow_simulator("census") as sim:
        shown = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path / "shown", env=FAST)
        quiet = syncruns(
            "run", "--quiet", "--base-url", sim.base_url, cwd=tmp_path / "quiet", env=FAST
        )
    assert shown.returncode == quiet.returncode == 0, shown.stderr + quiet.stderr
    assert re.search(rf"^syncruns: extract: syncs \d+/{SYNCS} \(\d+%\), runs ", shown.stderr, re.M)
    assert quiet.stderr == ""
    assert summary_value(quiet.stdout, "runs new") == sum(RUN_COUNTS)


def test_a_short_load_shows_no_progress(tmp_path: Path) -> None:
    """Under the default 5 s per step nothing shows; with the threshold at 0 the same load does."""
    world = CensusWorld(seed=3, sync_run_counts=(4, 9))
    with CensusSimulator(world, KEY) as sim:
        short = syncruns("run", "--base-url", sim.base_url, cwd=tmp_path / "short")
        shown = syncruns(
            "run", "--base-url", sim.base_url, cwd=tmp_path / "shown",
            env={"SYNCRUNS_PROGRESS_AFTER": "0"},
        )  # fmt: skip
    assert short.returncode == shown.returncode == 0, short.stderr + shown.stderr
    assert short.stderr == ""
    done = rf"syncruns: extract: done in \d+ s: syncs 2/2 \(100%\), runs 13(?: \({NUMBER}/s\))?, "
    assert re.search(rf"^{done}requests 3$", shown.stderr, re.M), shown.stderr


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed (EIO on Linux)
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_terminal_gets_one_line_updated_in_place(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = cli_env(tmp_path, "census", {**FAST, "TERM": "xterm-256color"})
    with slow_simulator("census") as sim:
        process = subprocess.Popen(
            [str(SYNCRUNS), "run", "--base-url", sim.base_url],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=follower,
        )  # fmt: skip
        os.close(follower)
        output = read_all(leader).decode()
        stdout, _ = process.communicate(timeout=180)
    os.close(leader)
    assert process.returncode == 0, output
    assert b"runs new" in stdout
    first_line = output.split("\r\n")[0]  # the terminal's line ends: \n as \r\n
    texts = [ANSI.sub("", redraw) for redraw in first_line.split("\r\x1b[2K")]
    updates = [text for text in texts if ": done in " not in text]
    assert len(updates) >= 2, repr(output)  # rich: back to the line's start, erase it, redraw
    assert all(re.search(rf"syncruns: extract: syncs \d+/{SYNCS} ", text) for text in updates)
    assert re.search(
        rf"syncruns: extract: done in \d+ s: syncs {SYNCS}/{SYNCS} \(100%\), "
        rf"runs {sum(RUN_COUNTS):,} \({NUMBER}/s\), requests {NUMBER}$",
        texts[-1],
    ), texts[-1]


@pytest.mark.parametrize(
    ("name", "value", "least"),
    [("SYNCRUNS_PROGRESS_AFTER", "soon", "0"), ("SYNCRUNS_PROGRESS_PERIOD", "0", "0.1")],
)
def test_a_bad_progress_setting_is_one_error_line(
    tmp_path: Path, name: str, value: str, least: str
) -> None:
    result = syncruns("run", "--base-url", "http://127.0.0.1:9", cwd=tmp_path, env={name: value})
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"syncruns: error: {name}={value!r} is not a number of seconds (at least {least})\n"
    )
