"""Side-by-side benchmark: ``python -m benchmarks.run [--reps 3] [--quick]`` (from the repo root).

Runs scenarios 1-5 (full load at 100 ms latency, incremental after changes, no change, 1M runs,
100k runs) for census_source, a plain dlt ``rest_api`` baseline and a savvy one (parallelized,
parquet) against the simulator in its own process, one fresh loader process per load, and a
fetch-and-parse ceiling in scenarios 4-5. Prints the tables and writes RESULTS.md, results.png
and results.json (raw measurements) into ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import rawdata, report
from benchmarks.capacity import measure_capacity
from benchmarks.ceiling import Ceiling, measure_ceiling
from benchmarks.machine import describe
from benchmarks.scenarios import (
    FULL_PLAN,
    PROJECT_ROOT,
    QUICK_PLAN,
    LoadSettings,
    Measurement,
    run_big,
    run_chain,
    scenario_titles,
    source_rate_limit,
)
from benchmarks.simulator_process import SimulatorProcess

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / "_work"  # git-ignored


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3; quick 1)")
    parser.add_argument(
        "--quick", action="store_true", help="small smoke version (< 2 min), output in _work/quick"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="SOURCES__CENSUS__CONCURRENCY for ours"
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=source_rate_limit(),
        help="SOURCES__CENSUS__RATE_LIMIT for ours in scenarios 1-3, req/s, 0 = none "
        "(default: the source's default, %(default)s)",
    )
    parser.add_argument(
        "--throughput-rate-limit",
        type=float,
        default=0.0,
        help="SOURCES__CENSUS__RATE_LIMIT for ours in scenarios 4-5 (zero latency; "
        "default 0 = none, so they measure the client, not the limiter)",
    )
    parser.add_argument(
        "--baseline-sequential",
        action="store_true",
        help="baseline without parallelized child requests (default: parallelized)",
    )
    parser.add_argument(
        "--baseline-1m",
        action="store_true",
        help="also run the baseline in scenario 4 (skipped by default unless --quick)",
    )
    parser.add_argument(
        "--savvy-1m",
        action="store_true",
        help="also run the savvy baseline in scenario 4 (skipped by default unless --quick)",
    )
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the fetch-and-parse ceiling (scenarios 4-5)"
    )
    parser.add_argument(
        "--baseline-format",
        choices=("default", "parquet", "jsonl", "insert_values"),
        default="default",
        help="loader_file_format for the baseline (default: what dlt picks for duckdb)",
    )
    parser.add_argument(
        "--scenarios", default="1,2,3,4,5", help="comma-separated subset (1-3 always run together)"
    )
    parser.add_argument("--seed", type=int, default=None, help="world seed")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default benchmarks/)"
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        default=None,
        help="only rebuild RESULTS.md and results.png from a results.json",
    )
    parser.add_argument("--keep", action="store_true", help="keep the DuckDB files and dlt state")
    return parser.parse_args(argv)


def _progress(started: float, item: Measurement) -> None:
    minutes = (time.perf_counter() - started) / 60
    print(
        f"[{minutes:5.1f} min] rep {item.rep + 1} {item.tool:<8} {item.scenario}: "
        f"wall {item.wall_s:7.2f} s, {item.requests.total:,} requests (floor {item.floor:,}), "
        f"{item.runs_rows:,} run rows, RSS {item.peak_rss_mib:,.0f} MiB"
        + ("" if item.complete else "  INCOMPLETE"),
        file=sys.stderr,
        flush=True,
    )


def _ceiling_progress(started: float, item: Ceiling) -> None:
    minutes = (time.perf_counter() - started) / 60
    print(
        f"[{minutes:5.1f} min] rep {item.rep + 1} ceiling  {item.scenario}: "
        f"wall {item.wall_s:7.2f} s, {item.requests:,} requests, {item.runs:,} runs parsed, "
        f"{item.runs_per_s:,.0f} runs/s, RSS {item.peak_rss_mib:,.0f} MiB"
        + ("" if item.complete else "  INCOMPLETE"),
        file=sys.stderr,
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write the report."""
    args = _parse_args(argv)
    if args.report_from is not None:
        saved_context, saved = rawdata.load(args.report_from)
        _write_report(args.out or args.report_from.parent, saved_context, saved)
        return 0
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    if args.seed is not None:
        plan = dataclasses.replace(plan, seed=args.seed)
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    selected = {part.strip() for part in args.scenarios.split(",") if part.strip()}
    out: Path = args.out or (WORK_DIR / "quick" if args.quick else BENCH_DIR)
    out.mkdir(parents=True, exist_ok=True)
    WORK_DIR.mkdir(exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_DIR))
    settings = LoadSettings(
        workroot=workroot,
        concurrency=args.concurrency,
        rate_limit=args.rate_limit,
        throughput_rate_limit=args.throughput_rate_limit,
        baseline_parallel=not args.baseline_sequential,
        baseline_format=None if args.baseline_format == "default" else args.baseline_format,
    )
    context = report.Context(
        machine=describe(PROJECT_ROOT),
        command="python -m benchmarks.run" + "".join(f" {arg}" for arg in sys.argv[1:]),
        plan=plan,
        reps=reps,
        concurrency=args.concurrency,
        rate_limit=args.rate_limit,
        throughput_rate_limit=args.throughput_rate_limit,
        baseline_parallel=settings.baseline_parallel,
        baseline_format=settings.baseline_format,
        quick=args.quick,
    )
    if not args.baseline_1m and not args.quick:
        context.skipped[("s4", "baseline")] = (
            "by default: about 7 min per load, mostly dlt loading insert_values into DuckDB; "
            "`--baseline-1m` runs it"
        )
    if not args.savvy_1m and not args.quick:
        context.skipped[("s4", "savvy")] = (
            "by default: about 3-4 min per load (8-12 s per 50k runs at `--quick`, x 20); "
            "`--savvy-1m` runs it"
        )
    started = time.perf_counter()
    measurements: list[Measurement] = []
    try:
        with SimulatorProcess() as sim:
            burst_s = 1.0 if args.quick else 3.0
            context.capacity = measure_capacity(
                sim, plan.chain_syncs, plan.chain_runs, plan.seed, seconds=burst_s
            )
            for rep in range(reps):
                shift = rep % len(report.TOOLS)
                tools = report.TOOLS[shift:] + report.TOOLS[:shift]
                if selected & {"1", "2", "3"}:
                    for tool in tools:
                        chain = run_chain(
                            sim, tool, rep, plan, settings, lambda m: _progress(started, m)
                        )
                        measurements += [m for m in chain if m.scenario[1] in selected]
                for scenario, runs in (("s4", plan.big_runs), ("s5", plan.small_runs)):
                    if scenario[1] not in selected:
                        continue
                    for tool in tools:
                        if (scenario, tool) in context.skipped:
                            continue
                        item = run_big(sim, scenario, tool, rep, plan, runs, settings)
                        _progress(started, item)
                        measurements.append(item)
                    if not args.no_ceiling:
                        ceiling = measure_ceiling(
                            sim, scenario, rep, args.concurrency, settings.timeout_s
                        )
                        _ceiling_progress(started, ceiling)
                        context.ceilings.append(ceiling)
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    context.elapsed_s = time.perf_counter() - started
    rawdata.save(out / "results.json", context, measurements)
    _write_report(out, context, measurements)
    if args.keep:
        print(f"kept the loads' work folders in {workroot}")
    return 0


def _write_report(out: Path, context: report.Context, measurements: list[Measurement]) -> None:
    """Print the tables; write RESULTS.md and results.png into `out`."""
    summaries = report.summarize(measurements)
    chart_name = "results.png"
    title = f"census_source vs rest_api baselines, {context.machine['date']}"
    titles = scenario_titles(context.plan)
    suffix = " (quick)" if context.quick else ""
    report.chart(summaries, titles, out / chart_name, title + suffix)
    text = report.markdown(summaries, measurements, context, chart_name)
    results_md = out / "RESULTS.md"
    kept = report.hand_written(results_md.read_text()) if results_md.exists() else ""
    results_md.write_text(text + ("\n" + kept if kept else ""))
    print(report.console(summaries, context))
    print(f"\nwrote {out / 'RESULTS.md'}, {out / chart_name}, {out / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
