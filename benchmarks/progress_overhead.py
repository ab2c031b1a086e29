"""Scenario 4 (1M runs, zero latency) through `syncruns run`: progress shown against `--quiet`.

``python -m benchmarks.progress_overhead [--rounds 3] [--syncs N] [--runs-per-sync N] [--no-write]``

Three sides load the same world from one simulator process, each load a fresh CLI process into
a fresh folder, the order rotating every round: `--quiet`; progress as plain lines (stderr a
pipe, as under an orchestrator: a line every 10 s); progress on a terminal (stderr a
pseudo-terminal: the line redrawn twice a second). Prints medians and writes the section
"Progress display overhead" of benchmarks/RESULTS.md (replacing an earlier one).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import resource
import statistics
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.sections import write_section
from benchmarks.simulator_process import SimulatorProcess

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK = BENCH_DIR / "_work" / "progress"
SECTION = "## Progress display overhead"
SIDES = ("quiet", "plain lines", "terminal")


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.progress_overhead")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--syncs", type=int, default=200)
    parser.add_argument("--runs-per-sync", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; RESULTS.md as is")
    return parser.parse_args(argv)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load(side: str, base_url: str, token: str, workdir: Path) -> dict[str, float]:
    """One `syncruns run` of `side`; wall and CPU seconds of the process, progress lines seen."""
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "SYNCRUNS_"))}
    env.update(
        DLT_DATA_DIR=str(workdir / "dlt_data"),
        RUNTIME__DLTHUB_TELEMETRY="false",
        SOURCES__CENSUS__API_KEY=token,
        SOURCES__CENSUS__RATE_LIMIT="0",  # scenario 4 measures throughput: no rate limit
        TERM="xterm-256color",
    )
    command = [sys.executable, "-m", "pipelines.census_pipeline", "run", "--base-url", base_url]
    command += ["--duckdb-path", str(workdir / "syncruns.duckdb")] + (
        ["--quiet"] if side == "quiet" else []
    )
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    if side == "terminal":
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=follower,
        )  # fmt: skip
        os.close(follower)
        err = _drain(leader)
        out, _ = process.communicate(timeout=1800)
        code = process.returncode
    else:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, timeout=1800, check=False
        )
        out, err, code = done.stdout, done.stderr, done.returncode
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{side} load failed ({code}):\n{err.decode()[-3000:]}")
    runs = next(line for line in out.decode().splitlines() if line.startswith("runs new "))
    return {
        "wall_s": wall,
        "cpu_s": _children_cpu_s() - cpu_before,
        "runs": float(runs.split()[-1].replace(",", "")),
        "updates": float(err.count(b"syncruns: extract: ")),
    }


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the rounds, print the table, write the RESULTS.md section."""
    args = _args(argv)
    results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with SimulatorProcess() as sim:
        world = sim.build(args.syncs, args.runs_per_sync, args.seed)
        for round_number in range(args.rounds):
            shift = round_number % len(SIDES)
            for side in SIDES[shift:] + SIDES[:shift]:
                workdir = WORK / f"run-{time.time_ns()}"
                measured = _load(side, world.base_url, sim.token, workdir)
                results[side].append(measured)
                print(
                    f"round {round_number + 1} {side}: {measured['wall_s']:.1f} s wall, "
                    f"{measured['cpu_s']:.1f} s CPU, {measured['updates']:.0f} updates",
                    flush=True,
                )
                subprocess.run(["rm", "-rf", str(workdir)], check=True)
    quiet = statistics.median(m["wall_s"] for m in results["quiet"])
    lines = [
        SECTION,
        "",
        f"Scenario 4 ({args.syncs} syncs x {args.runs_per_sync:,} runs, zero latency) through "
        f"`syncruns run`, {args.rounds} rounds, the order of the sides rotating, one fresh CLI "
        f"process per load (`python -m benchmarks.progress_overhead`), run {stamp}. Wall and "
        "CPU are the whole process's (start-up, extract, normalize, load):",
        "",
        "| side | median wall s | median runs/s | median CPU s | wall / quiet | updates | loads |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for side, loads in results.items():
        wall = statistics.median(m["wall_s"] for m in loads)
        cpu = statistics.median(m["cpu_s"] for m in loads)
        updates = statistics.median(m["updates"] for m in loads)
        runs = loads[0]["runs"]
        lines.append(
            f"| {side} | {wall:.1f} | {runs / wall:,.0f} | {cpu:.1f} | {wall / quiet:.3f} | "
            f"{updates:.0f} | {len(loads)} |"
        )
    per_round = "; ".join(
        f"{side}: " + ", ".join(f"{m['wall_s']:.1f}" for m in loads)
        for side, loads in results.items()
    )
    lines += ["", f"Walls per round (s): {per_round}.", ""]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section(BENCH_DIR / "RESULTS.md", SECTION, text)


if __name__ == "__main__":
    main()
