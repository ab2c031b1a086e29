"""Adaptive concurrency against servers that throttle: ``python -m benchmarks.adaptive``.

``[--reps 3] [--cases census,hightouch,hightouch-throttled] [--no-write]``

Each case serves one world from a simulator in its own process with a server-side rate limit
(429 + Retry-After beyond it) and 100 ms latency, and loads it in fresh processes: once with
adaptive concurrency (the default, ceiling `concurrency=8`) and once per fixed concurrency
(`adaptive_concurrency=false`), the order rotating every repetition. Between loads the
server's window drains. Prints medians and writes the section "Adaptive concurrency" of
benchmarks/RESULTS.md: the adaptive wall against the best fixed one chosen in hindsight, and
the share of requests answered 429.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.sections import write_section

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
HEADING = "## Adaptive concurrency"
TOKEN = "bench-adaptive-token"
LATENCY_S = 0.1
ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class Case:
    """One server and world: its limit, and the client's settings beside the sides loaded."""

    name: str
    vendor: str  # census | hightouch
    syncs: int
    runs_per_sync: int
    limit: tuple[int, float]  # the server's: requests per window seconds
    fixed: tuple[int, ...]  # fixed concurrencies to compare with
    client: dict[str, str]  # the source's settings (env), for every side
    note: str


CASES = (
    Case(
        "census",
        "census",
        100,
        1000,
        (50, 1.0),
        (4, 5, 6, 8, 16),
        {"RATE_LIMIT": "100"},
        "Census publishes no limit; the server allows 50 req/s, the client's default "
        "`rate_limit` is 100/s",
    ),
    Case(
        "hightouch",
        "hightouch",
        30,
        1000,
        (200, 10.0),
        (2, 4, 8, 16),
        {},
        "Hightouch's published 200 per 10 s, and the source's default limit for it",
    ),
    Case(
        "hightouch-throttled",
        "hightouch",
        30,
        1000,
        (100, 10.0),
        (2, 4, 8, 16),
        {},
        "a workspace throttled to 100 per 10 s while the source keeps its default 200/10 s",
    ),
)


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.adaptive", description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cases", default=",".join(case.name for case in CASES))
    parser.add_argument("--no-write", action="store_true", help="print only; RESULTS.md as is")
    parser.add_argument("--load", nargs=4, metavar=("VENDOR", "URL", "WORKDIR", "SIDE"))
    return parser.parse_args(argv)


def _serve(conn: Connection, case: Case) -> None:
    """Simulator process: serve the case's world; answer `counts`, `reset` and `stop`."""
    sim: Any
    if case.vendor == "census":
        from census_simulator import CensusSimulator, World

        world = World(seed=17, sync_run_counts=(case.runs_per_sync,) * case.syncs)
        sim = CensusSimulator(world, token=TOKEN, latency=LATENCY_S, rate_limit=case.limit)
        url = sim.start().base_url
    else:
        from hightouch_simulator import HightouchSimulator
        from hightouch_simulator import World as HightouchWorld

        ht_world = HightouchWorld(seed=17, sync_run_counts=(case.runs_per_sync,) * case.syncs)
        sim = HightouchSimulator(ht_world, token=TOKEN, latency=LATENCY_S, rate_limit=case.limit)
        url = sim.start().base_url
    conn.send(url)
    while True:
        command = conn.recv()
        if command == "counts":
            log = sim.requests
            conn.send((len(log), sum(1 for entry in log if entry.status == 429)))
        elif command == "reset":
            sim.reset_log()
            conn.send(None)
        else:
            sim.stop()
            conn.send(None)
            return


def _load_main(vendor: str, url: str, workdir: str, side: str) -> None:
    """Loader process: one full load into a fresh DuckDB file; prints one JSON line."""
    import dlt

    from pipelines.destinations import duckdb_destination

    section = f"SOURCES__{vendor.upper()}__"
    os.environ[section + "API_KEY"] = TOKEN
    os.environ[section + "ADAPTIVE_CONCURRENCY"] = str(side == ADAPTIVE).lower()
    if side != ADAPTIVE:
        os.environ[section + "CONCURRENCY"] = side
    source: Any
    if vendor == "census":
        from census_source import census_source

        source = census_source(base_url=url)
    else:
        from hightouch_source import hightouch_source

        source = hightouch_source(base_url=url)
    pipeline = dlt.pipeline(
        pipeline_name="bench_adaptive",
        pipelines_dir=str(Path(workdir) / "pipelines"),
        destination=duckdb_destination(Path(workdir) / "adaptive.duckdb"),
        dataset_name="runs",
    )
    started = time.perf_counter()
    error = ""
    try:
        pipeline.run(source)
    except Exception as exc:  # a load that gave up is a result here, not a crash
        error = type(exc).__name__
    wall_s = time.perf_counter() - started
    print(json.dumps({"wall_s": wall_s, "runs": _runs_loaded(pipeline), "error": error}))


def _runs_loaded(pipeline: Any) -> int:
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name("sync_runs")
            rows = client.execute_sql(f"SELECT count(*) FROM {table}") or [(0,)]
    except Exception:  # no table: nothing was loaded
        return 0
    return int(rows[0][0])


def _one_load(case: Case, url: str, side: str, conn: Connection) -> dict[str, Any]:
    conn.send("reset")
    conn.recv()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    section = f"SOURCES__{case.vendor.upper()}__"
    env.update({section + key: value for key, value in case.client.items()})
    env.update(RUNTIME__DLTHUB_TELEMETRY="false", PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="adaptive-", dir=BENCH_DIR / "_work") as workdir:
        command = [sys.executable, "-m", "benchmarks.adaptive", "--load"]
        done = subprocess.run(
            [*command, case.vendor, url, workdir, side],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    conn.send("counts")
    result["requests"], result["throttled"] = conn.recv()
    time.sleep(case.limit[1])  # let the server's window drain before the next load
    return result


def _run_case(case: Case, reps: int) -> dict[str, list[dict[str, Any]]]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, case))
    process.start()
    try:
        url = parent.recv()
        sides = [ADAPTIVE, *(str(c) for c in case.fixed)]
        results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for rep in range(reps):
            order = sides[rep % len(sides) :] + sides[: rep % len(sides)]
            for side in order:
                item = _one_load(case, url, side, parent)
                results[side].append(item)
                print(
                    f"{case.name} rep {rep + 1} {side:>8}: {item['wall_s']:6.1f} s, "
                    f"{item['requests']} requests, {item['throttled']} x 429, "
                    f"{item['runs']:,} runs {item['error']}",
                    file=sys.stderr,
                    flush=True,
                )
        return results
    finally:
        parent.send("stop")
        parent.recv()
        process.join(timeout=30)


def _median(items: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(item[key] for item in items))


def _table(case: Case, results: dict[str, list[dict[str, Any]]]) -> tuple[list[str], str]:
    expected = case.syncs * case.runs_per_sync
    complete = {
        side: all(item["runs"] == expected and not item["error"] for item in items)
        for side, items in results.items()
    }
    fixed = [side for side in results if side != ADAPTIVE and complete[side]]
    best = min(fixed, key=lambda side: _median(results[side], "wall_s")) if fixed else None
    lines = [
        f"### {case.name}: server {case.limit[0]} per {case.limit[1]:g} s",
        "",
        f"{case.note}; {case.syncs} syncs x {case.runs_per_sync:,} runs, 100 ms latency.",
        "",
        "| concurrency | median wall s | requests | answered 429 | 429 share | complete |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for side, items in results.items():
        requests, throttled = _median(items, "requests"), _median(items, "throttled")
        label = "adaptive (ceiling 8)" if side == ADAPTIVE else f"fixed {side}"
        lines.append(
            f"| {label}{' (best fixed)' if side == best else ''} | "
            f"{_median(items, 'wall_s'):.1f} | {requests:,.0f} | {throttled:,.0f} | "
            f"{throttled / requests:.1%} | {'yes' if complete[side] else '**no**'} |"
        )
    adaptive = results[ADAPTIVE]
    share = _median(adaptive, "throttled") / _median(adaptive, "requests")
    if best is None:
        verdict = "no fixed concurrency completed"
    else:
        ratio = _median(adaptive, "wall_s") / _median(results[best], "wall_s")
        hit = ratio <= 1.1 and share <= 0.01 and complete[ADAPTIVE]
        verdict = (
            f"adaptive ÷ best fixed ({best}): **{ratio:.2f}x** wall, {share:.1%} answered 429 "
            f"(targets ≤ 1.10x, ≤ 1 %): **{'pass' if hit else 'miss'}**"
        )
    return [*lines, "", verdict, ""], verdict


def main(argv: Sequence[str] | None = None) -> None:
    """Run every case, print the tables, write the RESULTS.md section."""
    args = _args(argv)
    if args.load:
        _load_main(*args.load)
        return
    (BENCH_DIR / "_work").mkdir(exist_ok=True)
    chosen = [case for case in CASES if case.name in args.cases.split(",")]
    began = time.perf_counter()
    lines = [
        HEADING,
        "",
        f"`python -m benchmarks.adaptive --reps {args.reps}`, run "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, medians of {args.reps} "
        "repetitions, one fresh loader process per load, the simulator in its own process. "
        "*answered 429* counts the server's refusals (retries included); dlt retries each "
        "after its Retry-After, up to `[runtime] request_max_attempts` (default 5).",
        "",
    ]
    for case in chosen:
        table, _ = _table(case, _run_case(case, args.reps))
        lines += table
    lines.append(f"Whole run: {(time.perf_counter() - began) / 60:.1f} min.")
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section(BENCH_DIR / "RESULTS.md", HEADING, text)


if __name__ == "__main__":
    main()
