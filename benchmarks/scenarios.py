"""The benchmark scenarios: world set-up, one fresh loader process per load, and measurements.

Every (tool, repetition) starts from a world freshly built from the same seed, and every tool
loads into its own work folder (DuckDB file and dlt pipelines dir), so no two tools share a
destination or pipeline state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.simulator_process import RequestCounts, SimulatorProcess, Truth

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DLT_EXTRACT_WORKERS = 5
"""dlt's default ``[extract] workers``: the thread pool that runs parallelized resources."""

SCENARIO_IDS = ("s1", "s2", "s3", "s4", "s5")


@dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run (the defaults are the full benchmark)."""

    chain_syncs: int = 200
    chain_runs: int = 1000
    latency_s: float = 0.1
    new_per_sync: int = 10  # 1 % new runs
    changing_per_sync: int = 20  # 2 % of runs change state
    advance_s: float = 3600.0
    big_syncs: int = 200
    big_runs: int = 5000  # 1,000,000 runs
    small_runs: int = 500  # 100,000 runs
    seed: int = 20240101


def _count_label(count: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size and count % (size // 10) == 0:
            return f"{count / size:g}{suffix}"
    return f"{count:,}"


def scenario_titles(plan: Plan) -> dict[str, str]:
    """Short scenario names for tables and the chart, e.g. ``4 full 1M runs``."""
    big = plan.big_syncs * plan.big_runs
    small = plan.big_syncs * plan.small_runs
    return {
        "s1": "1 full load",
        "s2": "2 incremental",
        "s3": "3 no change",
        "s4": f"4 full {_count_label(big)} runs",
        "s5": f"5 full {_count_label(small)} runs",
    }


FULL_PLAN = Plan()
QUICK_PLAN = Plan(
    chain_syncs=20,
    chain_runs=300,
    latency_s=0.02,
    new_per_sync=3,
    changing_per_sync=6,
    big_syncs=20,
    big_runs=2500,
    small_runs=250,
)


@dataclass(frozen=True)
class LoadSettings:
    """How the loader processes are started."""

    workroot: Path
    concurrency: int
    rate_limit: float  # scenarios 1-3 (0 = no limit)
    throughput_rate_limit: float  # scenarios 4-5, zero latency (0 = no limit)
    baseline_parallel: bool
    baseline_format: str | None = None
    timeout_s: float = 3600.0

    def concurrency_of(self, tool: str) -> int:
        """Requests a tool can have in flight (used for the ideal wall time)."""
        if tool == "ours":
            return self.concurrency
        if tool == "savvy" or self.baseline_parallel:
            return DLT_EXTRACT_WORKERS
        return 1


@dataclass
class Measurement:
    """One load of one tool in one scenario and repetition."""

    scenario: str
    tool: str
    rep: int
    wall_s: float
    process_s: float
    requests: RequestCounts
    floor: int
    latency_s: float
    concurrency: int
    rate_limit: float | None
    runs_rows: int
    runs_in_table: int
    open_in_table: int
    truth: Truth
    peak_rss_mib: float
    loader_cpu_s: float
    world_runs: int
    setup: dict[str, Any] = field(default_factory=dict)
    steps_s: dict[str, float] = field(default_factory=dict)  # extract, normalize, load

    @property
    def ideal_s(self) -> float:
        """Floor requests x latency / concurrency (and no faster than the rate limit)."""
        ideal = self.floor * self.latency_s / self.concurrency
        if self.rate_limit:
            ideal = max(ideal, self.floor / self.rate_limit)
        return ideal

    @property
    def runs_per_s(self) -> float:
        """Run rows loaded per second of wall time."""
        return self.runs_rows / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def complete(self) -> bool:
        """The table holds exactly the world's runs, with the same number still open."""
        return (self.runs_in_table, self.open_in_table) == (
            self.truth.runs,
            self.truth.open_runs,
        )


def source_rate_limit() -> float:
    """The source's default ``rate_limit`` (req/s; 0 if it has none)."""
    from census_source import settings

    return float(getattr(settings, "DEFAULT_RATE_LIMIT", 0.0))


def _loader_env(tool: str, settings: LoadSettings, rate_limit: float) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if part
    )
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env.pop("SOURCES__CENSUS__API_KEY", None)
    for name in ("SOURCES__CENSUS__CONCURRENCY", "SOURCES__CENSUS__RATE_LIMIT"):
        env.pop(name, None)
    if tool == "ours":
        env["SOURCES__CENSUS__CONCURRENCY"] = str(settings.concurrency)
        env["SOURCES__CENSUS__RATE_LIMIT"] = str(rate_limit)
    return env


def run_loader(
    tool: str, base_url: str, token: str, workdir: Path, settings: LoadSettings, rate_limit: float
) -> tuple[dict[str, Any], float]:
    """Run ``benchmarks.load_one`` in a fresh process; returns its JSON and the process wall."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.load_one", "--tool", tool]
    command += ["--base-url", base_url, "--token", token, "--workdir", str(workdir)]
    if tool == "baseline" and not settings.baseline_parallel:
        command.append("--baseline-sequential")
    if tool == "baseline" and settings.baseline_format:
        command += ["--loader-file-format", settings.baseline_format]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=workdir,
        env=_loader_env(tool, settings, rate_limit),
        capture_output=True,
        text=True,
        timeout=settings.timeout_s,
        check=False,
    )
    process_s = time.perf_counter() - started
    with (workdir / "load.log").open("a") as log:
        log.write(done.stderr)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-30:])
        raise RuntimeError(f"{tool} load failed (exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, process_s


def measure(
    sim: SimulatorProcess,
    scenario: str,
    tool: str,
    rep: int,
    base_url: str,
    workdir: Path,
    settings: LoadSettings,
    latency_s: float,
    incremental: bool,
) -> Measurement:
    """Floor and ground truth first, then one load with a clean request log."""
    rate_limit = settings.rate_limit if latency_s > 0 else settings.throughput_rate_limit
    floor = sim.floor(incremental=incremental)
    truth = sim.truth()
    sim.reset_log()
    result, process_s = run_loader(tool, base_url, sim.token, workdir, settings, rate_limit)
    counts = sim.request_counts()
    return Measurement(
        scenario=scenario,
        tool=tool,
        rep=rep,
        wall_s=float(result["wall_s"]),
        process_s=process_s,
        requests=counts,
        floor=floor,
        latency_s=latency_s,
        concurrency=settings.concurrency_of(tool),
        rate_limit=rate_limit if tool == "ours" else None,
        runs_rows=int(result["runs_rows"]),
        runs_in_table=int(result["runs_in_table"]),
        open_in_table=int(result["open_in_table"]),
        truth=truth,
        peak_rss_mib=float(result["peak_rss_mib"]),
        loader_cpu_s=float(result["cpu_s"]),
        world_runs=truth.runs,
        steps_s={step: float(seconds) for step, seconds in result.get("steps_s", {}).items()},
    )


def run_chain(
    sim: SimulatorProcess,
    tool: str,
    rep: int,
    plan: Plan,
    settings: LoadSettings,
    on_measured: Callable[[Measurement], None] = lambda item: None,
) -> list[Measurement]:
    """Scenarios 1-3 on one fresh world: full load, incremental after changes, no change.

    Before the full load each sync's newest ``changing_per_sync`` runs are made open
    (``working``); before the incremental load the world advances ``advance_s`` seconds with
    ``new_per_sync`` new runs per sync and every open run finishing (completed or failed).
    """
    sim.set_latency(plan.latency_s)
    world = sim.build(plan.chain_syncs, plan.chain_runs, plan.seed)
    marked = sim.mark_newest_open(plan.changing_per_sync)
    workdir = settings.workroot / f"rep{rep}-{tool}-chain"
    args = (tool, rep, world.base_url, workdir, settings, plan.latency_s)
    full = measure(sim, "s1", *args, incremental=False)
    full.setup = {"world_build_s": world.build_s, "open_before_full_load": full.truth.open_runs}
    on_measured(full)
    sim.snapshot()
    new_runs, finished = sim.advance(plan.advance_s, plan.new_per_sync)
    incremental = measure(sim, "s2", *args, incremental=True)
    incremental.setup = {
        "marked_open": marked,
        "new_runs": new_runs,
        "changed_state": finished,
        "open_after_advance": incremental.truth.open_runs,
    }
    on_measured(incremental)
    sim.snapshot()
    unchanged = measure(sim, "s3", *args, incremental=True)
    on_measured(unchanged)
    return [full, incremental, unchanged]


def run_big(
    sim: SimulatorProcess,
    scenario: str,
    tool: str,
    rep: int,
    plan: Plan,
    runs_per_sync: int,
    settings: LoadSettings,
) -> Measurement:
    """A full load of a fresh world with zero latency (throughput and memory)."""
    sim.set_latency(0.0)
    world = sim.build(plan.big_syncs, runs_per_sync, plan.seed)
    workdir = settings.workroot / f"rep{rep}-{tool}-{scenario}"
    result = measure(
        sim, scenario, tool, rep, world.base_url, workdir, settings, 0.0, incremental=False
    )
    result.setup = {"world_build_s": world.build_s}
    return result
