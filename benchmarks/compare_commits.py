"""Scenario 4 (1M runs, zero latency) for this tree and another commit, alternating, one load each.

``python -m benchmarks.compare_commits --against COMMIT [--rounds 3]``

The other commit is checked out into a git worktree under benchmarks/_work/; both sides load
the same simulated world (one simulator process), each load in a fresh process, the order
alternating every round. Prints medians and writes the section "Side by side with a commit" of
benchmarks/RESULTS.md (replacing an earlier one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.simulator_process import SimulatorProcess

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK = BENCH_DIR / "_work" / "compare"
SECTION = "## Side by side with a commit"


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare_commits")
    parser.add_argument("--against", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--syncs", type=int, default=200)
    parser.add_argument("--runs-per-sync", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def _worktree(commit: str) -> tuple[Path, str]:
    sha = subprocess.run(
        ["git", "rev-parse", "--short", commit],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = WORK / sha
    if not tree.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), sha],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return tree, sha


def _load(tree: Path, base_url: str, token: str, workdir: Path) -> dict[str, float]:
    workdir.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(tree), RUNTIME__DLTHUB_TELEMETRY="false")
    env["SOURCES__CENSUS__RATE_LIMIT"] = "0"  # scenario 4 measures throughput: no rate limit
    env.pop("SOURCES__CENSUS__API_KEY", None)
    command = [
        sys.executable,
        "-m",
        "benchmarks.load_one",
        "--tool",
        "ours",
        "--base-url",
        base_url,
        "--token",
        token,
        "--workdir",
        str(workdir),
    ]
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, check=False, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(f"load from {tree} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "wall_s": float(result["wall_s"]),
        "rss": float(result["peak_rss_mib"]),
        "runs": float(result["runs_in_table"]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the rounds, print the table, write the RESULTS.md section."""
    args = _args(argv)
    other, sha = _worktree(args.against)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    sides = {f"this tree ({head} + changes)": ROOT, f"commit {sha}": other}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with SimulatorProcess() as sim:
        world = sim.build(args.syncs, args.runs_per_sync, args.seed)
        for round_number in range(args.rounds):
            order = list(sides.items())
            if round_number % 2:
                order.reverse()
            for name, tree in order:
                workdir = WORK / f"run-{time.time_ns()}"
                measured = _load(tree, world.base_url, sim.token, workdir)
                results[name].append(measured)
                print(f"round {round_number + 1} {name}: {measured['wall_s']:.1f} s", flush=True)
                subprocess.run(["rm", "-rf", str(workdir)], check=True)
    lines = [
        SECTION,
        "",
        f"Scenario 4 ({args.syncs} syncs x {args.runs_per_sync:,} runs, zero latency), "
        f"{args.rounds} rounds alternating, one load per side per round, run {stamp}:",
        "",
        "| side | median wall s | median runs/s | median peak RSS MiB | loads |",
        "| --- | --- | --- | --- | --- |",
    ]
    medians: dict[str, float] = {}
    for name, runs_of_side in results.items():
        wall = statistics.median(m["wall_s"] for m in runs_of_side)
        runs = runs_of_side[0]["runs"]
        medians[name] = wall
        rss = statistics.median(m["rss"] for m in runs_of_side)
        loads = len(runs_of_side)
        lines.append(f"| {name} | {wall:.1f} | {runs / wall:,.0f} | {rss:.0f} | {loads} |")
    first, second = list(medians.values())
    lines += ["", f"Ratio of median walls (this tree / commit): {first / second:.3f}", ""]
    text = "\n".join(lines)
    print("\n" + text)
    results_md = BENCH_DIR / "RESULTS.md"
    current = results_md.read_text()
    if SECTION in current:
        current = current[: current.index(SECTION)].rstrip() + "\n"
    results_md.write_text(current + "\n" + text)


if __name__ == "__main__":
    main()
