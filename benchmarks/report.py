"""Medians, ratios and targets from the measurements: console table, RESULTS.md, PNG chart."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.capacity import Capacity
from benchmarks.ceiling import Ceiling
from benchmarks.scenarios import Measurement, Plan, scenario_titles

TOOLS = ("ours", "baseline", "savvy")
BASELINES = ("baseline", "savvy")
TOOL_LABELS = {
    "ours": "census_source",
    "baseline": "rest_api baseline",
    "savvy": "rest_api + parquet + parallelized",
}
RSS_GROWTH_TARGET = 1.1  # issue 17
STEPS = ("extract", "normalize", "load")  # the steps of pipeline.run, timed by load_one
CEILING_TARGET = 0.8  # ours' runs/s as a share of the fetch-and-parse ceiling (issue 17)
CEILING_SCENARIOS = ("s4", "s5")
GENERATED_LAST = "## How measured"


@dataclass(frozen=True)
class Summary:
    """Medians over the repetitions of one tool in one scenario."""

    scenario: str
    tool: str
    reps: int
    wall_s: float
    process_s: float
    requests: float
    sync_list: float
    run_list: float
    run_fetch: float
    not_ok: float
    floor: int
    ideal_s: float
    runs_per_s: float
    runs_rows: float
    peak_rss_mib: float
    loader_cpu_s: float
    sim_cpu_s: float
    complete: bool
    truth_runs: int
    runs_in_table: int
    steps_s: dict[str, float] = field(default_factory=dict)  # medians; {} in older results


@dataclass
class Context:
    """Everything besides the measurements that RESULTS.md reports."""

    machine: dict[str, str]
    command: str
    plan: Plan
    reps: int
    concurrency: int
    rate_limit: float
    throughput_rate_limit: float
    baseline_parallel: bool
    baseline_format: str | None
    quick: bool
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)
    capacity: list[Capacity] = field(default_factory=list)
    ceilings: list[Ceiling] = field(default_factory=list)
    elapsed_s: float = 0.0


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def summarize(measurements: Sequence[Measurement]) -> dict[tuple[str, str], Summary]:
    """Medians per (scenario, tool)."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for item in measurements:
        groups.setdefault((item.scenario, item.tool), []).append(item)
    summaries: dict[tuple[str, str], Summary] = {}
    for (scenario, tool), items in groups.items():

        def med(get: Callable[[Measurement], float], items: list[Measurement] = items) -> float:
            return _median([get(item) for item in items])

        summaries[(scenario, tool)] = Summary(
            scenario=scenario,
            tool=tool,
            reps=len(items),
            wall_s=med(lambda m: m.wall_s),
            process_s=med(lambda m: m.process_s),
            requests=med(lambda m: m.requests.total),
            sync_list=med(lambda m: m.requests.sync_list),
            run_list=med(lambda m: m.requests.run_list),
            run_fetch=med(lambda m: m.requests.run_fetch),
            not_ok=med(lambda m: m.requests.not_ok),
            floor=int(med(lambda m: m.floor)),
            ideal_s=med(lambda m: m.ideal_s),
            runs_per_s=med(lambda m: m.runs_per_s),
            runs_rows=med(lambda m: m.runs_rows),
            peak_rss_mib=med(lambda m: m.peak_rss_mib),
            loader_cpu_s=med(lambda m: m.loader_cpu_s),
            sim_cpu_s=med(lambda m: m.requests.sim_cpu_s),
            complete=all(item.complete for item in items),
            truth_runs=items[0].truth.runs,
            runs_in_table=items[0].runs_in_table,
            steps_s={
                step: _median([item.steps_s[step] for item in items])
                for step in STEPS
                if all(step in item.steps_s for item in items)
            },
        )
    return summaries


# ------------------------------------------------------------------ formatting helpers
def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _secs(value: float) -> str:
    return f"{value:,.2f}" if value < 10 else f"{value:,.1f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**pass**" if ok else "**miss**")


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i].replace("*", "")) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(row):
            text = cell.replace("*", "")
            parts.append(text.ljust(widths[i]) if i < 2 else text.rjust(widths[i]))
        return "  ".join(parts)

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


# ------------------------------------------------------------------ tables
MAIN_HEADER = (
    "scenario",
    "tool",
    "wall s",
    "requests",
    "floor",
    "ideal s",
    "runs/s",
    "peak RSS MiB",
    "complete",
)


def main_rows(summaries: dict[tuple[str, str], Summary], context: Context) -> list[list[str]]:
    """One row per scenario and tool, in scenario order."""
    rows: list[list[str]] = []
    for scenario, title in scenario_titles(context.plan).items():
        for tool in TOOLS:
            found = summaries.get((scenario, tool))
            if found is None:
                if (scenario, tool) in context.skipped:
                    rows.append([title, tool, "skipped*", *["—"] * 6])
                continue
            rows.append(
                [
                    title,
                    tool,
                    _secs(found.wall_s),
                    _num(found.requests),
                    _num(found.floor),
                    _secs(found.ideal_s) if found.ideal_s > 0 else "— (CPU-bound)",
                    _num(found.runs_per_s),
                    _num(found.peak_rss_mib),
                    "yes" if found.complete else "**NO**",
                ]
            )
    return rows


def skip_notes(context: Context) -> list[str]:
    """One footnote per skipped (scenario, tool)."""
    titles = scenario_titles(context.plan)
    return [
        f"* {tool} in scenario {titles[scenario]}: skipped {reason}"
        for (scenario, tool), reason in context.skipped.items()
    ]


def _vs(
    summaries: dict[tuple[str, str], Summary],
    scenario: str,
    other: str,
    get: Callable[[Summary], float],
) -> float | None:
    """`other` ÷ ours of one median (None if either is missing or ours is zero)."""
    ours, theirs = summaries.get((scenario, "ours")), summaries.get((scenario, other))
    if ours is None or theirs is None or not get(ours):
        return None
    return get(theirs) / get(ours)


RATIO_COLUMNS: tuple[tuple[str, Callable[[Summary], float]], ...] = (
    ("requests", lambda s: s.requests),
    ("wall", lambda s: s.wall_s),
    ("RSS", lambda s: s.peak_rss_mib),
)
RATIO_HEADER = (
    "scenario",
    *[f"{name} ({other}÷ours)" for name, _ in RATIO_COLUMNS for other in ("base", "savvy")],
)


def ratio_rows(
    summaries: dict[tuple[str, str], Summary], titles: dict[str, str]
) -> list[list[str]]:
    """Baseline ÷ ours and savvy ÷ ours per scenario: requests, wall time, peak RSS."""
    rows: list[list[str]] = []
    for scenario, title in titles.items():
        if not any((scenario, other) in summaries for other in BASELINES):
            continue
        if (scenario, "ours") not in summaries:
            continue
        cells = [
            _ratio(_vs(summaries, scenario, other, get))
            for _, get in RATIO_COLUMNS
            for other in BASELINES
        ]
        rows.append([title, *cells])
    return rows


@dataclass(frozen=True)
class CeilingSummary:
    """Medians of the fetch-and-parse ceiling in one scenario."""

    scenario: str
    threads: int
    reps: int
    wall_s: float
    runs_per_s: float
    peak_rss_mib: float
    complete: bool


def summarize_ceilings(ceilings: Sequence[Ceiling]) -> dict[str, CeilingSummary]:
    """Medians per scenario."""
    groups: dict[str, list[Ceiling]] = {}
    for item in ceilings:
        groups.setdefault(item.scenario, []).append(item)
    return {
        scenario: CeilingSummary(
            scenario=scenario,
            threads=items[0].threads,
            reps=len(items),
            wall_s=_median([item.wall_s for item in items]),
            runs_per_s=_median([item.runs_per_s for item in items]),
            peak_rss_mib=_median([item.peak_rss_mib for item in items]),
            complete=all(item.complete for item in items),
        )
        for scenario, items in groups.items()
    }


def _share_of_ceiling(
    summaries: dict[tuple[str, str], Summary], ceilings: dict[str, CeilingSummary], scenario: str
) -> tuple[Summary | None, CeilingSummary | None, float | None]:
    ours, ceiling = summaries.get((scenario, "ours")), ceilings.get(scenario)
    if ours is None or ceiling is None or not ceiling.runs_per_s:
        return ours, ceiling, None
    return ours, ceiling, ours.runs_per_s / ceiling.runs_per_s


CEILING_HEADER = (
    "scenario",
    "threads",
    "median wall s",
    "runs/s",
    "peak RSS MiB",
    "ours runs/s",
    "ours ÷ ceiling",
)


def ceiling_rows(summaries: dict[tuple[str, str], Summary], context: Context) -> list[list[str]]:
    """The fetch-and-parse ceiling per scenario beside ours' runs/s."""
    titles = scenario_titles(context.plan)
    ceilings = summarize_ceilings(context.ceilings)
    rows: list[list[str]] = []
    for scenario in CEILING_SCENARIOS:
        ours, ceiling, share = _share_of_ceiling(summaries, ceilings, scenario)
        if ceiling is None:
            continue
        rows.append(
            [
                titles[scenario],
                str(ceiling.threads),
                _secs(ceiling.wall_s),
                _num(ceiling.runs_per_s) + ("" if ceiling.complete else " **INCOMPLETE**"),
                _num(ceiling.peak_rss_mib),
                "n/a" if ours is None else _num(ours.runs_per_s),
                _ratio(share),
            ]
        )
    return rows


STEP_HEADER = (
    "scenario",
    "ours wall s",
    "extract s",
    "normalize s",
    "load s",
    "ceiling wall s",
    "ceiling ÷ extract",
    "best ours ÷ ceiling with this load",
)


def step_rows(summaries: dict[tuple[str, str], Summary], context: Context) -> list[list[str]]:
    """Ours' wall split into dlt's steps beside the ceiling: how far extract is from it, and
    the best end-to-end ratio if extract ran at the ceiling while normalize and load took what
    they took (dlt runs them after extract)."""
    titles = scenario_titles(context.plan)
    ceilings = summarize_ceilings(context.ceilings)
    rows: list[list[str]] = []
    for scenario in CEILING_SCENARIOS:
        ours, ceiling = summaries.get((scenario, "ours")), ceilings.get(scenario)
        if ours is None or ceiling is None or set(STEPS) - ours.steps_s.keys():
            continue
        extract, normalize, load = (ours.steps_s[step] for step in STEPS)
        rows.append(
            [
                titles[scenario],
                _secs(ours.wall_s),
                _secs(extract),
                _secs(normalize),
                _secs(load),
                _secs(ceiling.wall_s),
                _ratio(ceiling.wall_s / extract if extract else None),
                _ratio(ceiling.wall_s / (ceiling.wall_s + normalize + load)),
            ]
        )
    return rows


def _world_labels(plan: Plan) -> tuple[str, str]:
    """(big, small) world sizes of scenarios 4 and 5, e.g. ("1M", "100k")."""
    titles = scenario_titles(plan)
    return titles["s4"].split()[2], titles["s5"].split()[2]


def memory_rows(summaries: dict[tuple[str, str], Summary]) -> list[list[str]]:
    """Scenario 5: peak RSS at the small and the big world, per tool."""
    rows: list[list[str]] = []
    for tool in TOOLS:
        low, high = summaries.get(("s5", tool)), summaries.get(("s4", tool))
        if low is None or high is None:
            continue
        growth = high.peak_rss_mib / low.peak_rss_mib
        rows.append(
            [
                tool,
                _num(low.peak_rss_mib),
                _num(high.peak_rss_mib),
                _ratio(growth),
                _verdict(growth <= RSS_GROWTH_TARGET) if tool == "ours" else "",
            ]
        )
    return rows


def target_rows(summaries: dict[tuple[str, str], Summary], context: Context) -> list[list[str]]:
    """The targets of issues 4 and 17, each with the measured value and pass/miss."""
    rows: list[list[str]] = []
    big, small = _world_labels(context.plan)
    ceilings = summarize_ceilings(context.ceilings)

    def get(scenario: str, tool: str = "ours") -> Summary | None:
        return summaries.get((scenario, tool))

    for scenario in ("s2", "s3"):
        found = get(scenario)
        rows.append(
            [
                f"scenario {scenario[1]}: requests == floor",
                "n/a" if found is None else f"{_num(found.requests)} vs {_num(found.floor)}",
                _verdict(None if found is None else found.requests == found.floor),
            ]
        )
    s1 = get("s1")
    rows.append(
        [
            "scenario 1: wall ≤ 1.15 x ideal",
            "n/a"
            if s1 is None
            else f"{_secs(s1.wall_s)} s vs {_secs(1.15 * s1.ideal_s)} s "
            f"(ideal {_secs(s1.ideal_s)})",
            _verdict(None if s1 is None else s1.wall_s <= 1.15 * s1.ideal_s),
        ]
    )
    s4 = get("s4")
    rows.append(
        [
            "scenario 4: ≥ 30,000 runs/s",
            "n/a" if s4 is None else f"{_num(s4.runs_per_s)} runs/s",
            _verdict(None if s4 is None else s4.runs_per_s >= 30_000),
        ]
    )
    rows.append(
        [
            "scenario 4: peak RSS ≤ 400 MiB",
            "n/a" if s4 is None else f"{_num(s4.peak_rss_mib)} MiB",
            _verdict(None if s4 is None else s4.peak_rss_mib <= 400),
        ]
    )
    for scenario in CEILING_SCENARIOS:
        ours, ceiling, share = _share_of_ceiling(summaries, ceilings, scenario)
        rows.append(
            [
                f"scenario {scenario[1]}: ≥ {CEILING_TARGET:g} x fetch-and-parse ceiling",
                "n/a"
                if ours is None or ceiling is None or share is None
                else f"{_num(ours.runs_per_s)} vs {_num(CEILING_TARGET * ceiling.runs_per_s)} "
                f"runs/s (ceiling {_num(ceiling.runs_per_s)}; {_ratio(share)})",
                _verdict(None if share is None else share >= CEILING_TARGET),
            ]
        )
    s5 = get("s5")
    growth = None if s4 is None or s5 is None else s4.peak_rss_mib / s5.peak_rss_mib
    rows.append(
        [
            f"scenario 5: RSS({big}) ≤ {RSS_GROWTH_TARGET:g} x RSS({small})",
            "n/a" if growth is None else _ratio(growth),
            _verdict(None if growth is None else growth <= RSS_GROWTH_TARGET),
        ]
    )
    fewer = _vs(summaries, "s2", "baseline", lambda s: s.requests)
    rows.append(
        [
            "vs baseline, scenario 2: ≥ 10x fewer requests",
            "n/a" if fewer is None else f"{_ratio(fewer)} fewer",
            _verdict(None if fewer is None else fewer >= 10),
        ]
    )
    faster = _vs(summaries, "s1", "baseline", lambda s: s.wall_s)
    rows.append(
        [
            "vs baseline, scenario 1: ≥ 3x faster",
            "n/a" if faster is None else f"{_ratio(faster)} faster",
            _verdict(None if faster is None else faster >= 3),
        ]
    )
    savvy = _vs(summaries, "s1", "savvy", lambda s: s.wall_s)
    rows.append(
        [
            "vs savvy baseline, scenario 1: faster",
            "n/a" if savvy is None else f"{_ratio(savvy)} (savvy wall ÷ ours)",
            _verdict(None if savvy is None else savvy > 1),
        ]
    )
    ours_all = [s for (_, tool), s in summaries.items() if tool == "ours"]
    rows.append(
        [
            "check: every load of ours complete (runs and open runs match the world)",
            f"{sum(s.complete for s in ours_all)} of {len(ours_all)} scenarios",
            _verdict(all(s.complete for s in ours_all) if ours_all else None),
        ]
    )
    return rows


def detail_rows(
    summaries: dict[tuple[str, str], Summary], titles: dict[str, str]
) -> list[list[str]]:
    """Request kinds, process wall, simulator CPU and table contents per scenario and tool."""
    rows: list[list[str]] = []
    for scenario, title in titles.items():
        for tool in TOOLS:
            found = summaries.get((scenario, tool))
            if found is None:
                continue
            busy = found.sim_cpu_s / found.wall_s * 100 if found.wall_s else 0.0
            rows.append(
                [
                    title,
                    tool,
                    str(found.reps),
                    _secs(found.process_s),
                    _secs(found.loader_cpu_s),
                    _num(found.sync_list),
                    _num(found.run_list),
                    _num(found.run_fetch),
                    _num(found.not_ok),
                    f"{_secs(found.sim_cpu_s)} ({busy:.0f} %)",
                    _num(found.runs_rows),
                    f"{_num(found.runs_in_table)} / {_num(found.truth_runs)}",
                ]
            )
    return rows


DETAIL_HEADER = (
    "scenario",
    "tool",
    "reps",
    "process s",
    "loader CPU s",
    "sync-list",
    "run-list",
    "run fetch",
    "non-200",
    "simulator CPU s (% of wall)",
    "run rows loaded",
    "runs in table / world",
)


def capacity_rows(capacity: Sequence[Capacity]) -> list[list[str]]:
    """Simulator capacity per number of client threads."""
    return [
        [
            str(item.threads),
            _num(item.pages_per_s),
            _num(item.pages_per_s * 100),
            f"{item.sim_cpu_s / item.seconds * 100:.0f} %",
        ]
        for item in capacity
    ]


# ------------------------------------------------------------------ outputs
def console(summaries: dict[tuple[str, str], Summary], context: Context) -> str:
    """The tables printed at the end of a run."""
    titles = scenario_titles(context.plan)
    parts = [
        _text_table(MAIN_HEADER, main_rows(summaries, context)),
        *skip_notes(context),
        "",
        _text_table(RATIO_HEADER, ratio_rows(summaries, titles)),
        "",
        _text_table(("target", "measured", "result"), target_rows(summaries, context)),
    ]
    if context.ceilings:
        parts += ["", _text_table(CEILING_HEADER, ceiling_rows(summaries, context))]
        steps = step_rows(summaries, context)
        parts += ["", _text_table(STEP_HEADER, steps)] if steps else []
    if context.capacity:
        parts += [
            "",
            _text_table(
                ("client threads", "pages/s", "runs/s", "simulator CPU"),
                capacity_rows(context.capacity),
            ),
        ]
    return "\n".join(parts)


def _how_measured(context: Context, setup: dict[str, str], savvy: bool) -> str:
    plan = context.plan
    chain = plan.chain_syncs * plan.chain_runs
    new_pct = 100 * plan.new_per_sync / plan.chain_runs
    changed_pct = 100 * plan.changing_per_sync / plan.chain_runs
    workers = "5 (dlt's default `[extract] workers`)"
    base_conc = workers if context.baseline_parallel else "1"
    savvy_line = (
        "- **Savvy baseline** (*savvy*, rest_api + parquet + parallelized): the same "
        '`baseline_source` as a user who knows dlt runs it, `"parallelized": True` on the '
        "child resource and `pipeline.run(..., loader_file_format='parquet')`, dlt's default "
        "duckdb destination settings, no incremental either, merge on `id`; concurrency for "
        f"its ideal: {workers}."
    )
    ceiling_line = (
        "- **Fetch-and-parse ceiling** (`benchmarks/ceiling.py`), scenarios 4 and 5: right "
        "after the tools' loads of the scenario in each repetition, on the same world at "
        "zero latency, a fresh `python -m benchmarks.ceiling` process lists the syncs, then "
        f"{context.concurrency} threads (ours' concurrency), each with its own keep-alive "
        "`requests.Session`, take syncs from a shared queue and GET every page of "
        "`/syncs/{id}/sync_runs?per_page=100&page=k` (Bearer token), following "
        "`pagination.next_page`, and parse each body with `orjson.loads` (`json.loads` "
        "without orjson). Runs are counted, nothing is loaded or kept: what a client in one "
        "Python process with these threads gets from this simulator before doing anything "
        "with the runs. *runs/s* = runs parsed ÷ the wall of that pass (sync list to the "
        "last page); *ours ÷ ceiling* compares the medians of runs/s."
    )
    return "\n".join(
        [
            f"- **Worlds.** Every tool and repetition starts from a world freshly built from seed "
            f"{plan.seed} in the simulator process; no two tools share a DuckDB file or "
            "dlt pipeline state (each load chain has its own work folder). The order of the "
            "tools rotates between repetitions: ours, baseline, savvy; then baseline, savvy, "
            "ours; and so on.",
            f"- **Scenario 1** loads {plan.chain_syncs} syncs x {plan.chain_runs:,} runs "
            f"({chain:,}) with {plan.latency_s * 1000:.0f} ms latency per request. Before it, "
            f"each sync's newest {plan.changing_per_sync} runs are made open with "
            "`World.update_run(status='working', completed_at=None, ...)` "
            f"({setup.get('marked_open', '?')} runs changed; "
            f"{setup.get('open_before', '?')} runs open in all, the generator's own open runs "
            "being among the newest).",
            f"- **Scenario 2** follows on the same destination: `World.advance(seconds="
            f"{plan.advance_s:.0f}, new_runs_per_sync={plan.new_per_sync}, finish_open=True)` "
            f"adds {setup.get('new_runs', '?')} runs ({new_pct:g} %) and finishes every open run "
            f"({setup.get('changed_state', '?')} runs change state, {changed_pct:g} %, to "
            "completed or "
            "failed); the newest new run of a sync is itself open with probability 0.3 "
            f"({setup.get('open_after', '?')} open afterwards). Scenario 3 runs right after, "
            "with the world unchanged.",
            f"- **Scenarios 4 and 5** are full loads at zero latency of {plan.big_syncs} syncs x "
            f"{plan.big_runs:,} runs and {plan.big_syncs} syncs x {plan.small_runs:,} runs; "
            "scenario 5 compares the peak RSS of the two.",
            "- **Loads.** Each load is a fresh `python -m benchmarks.load_one` process (cwd = its "
            "work folder, dlt telemetry off) writing to a DuckDB file with the dlt pipelines dir "
            "in the same folder. *wall s* is `pipeline.run(source)` (source construction, "
            "extract, normalize, load) timed inside that process; *process s* adds interpreter "
            "start and imports; *loader CPU s* is that process's user + system time. *peak "
            "RSS* is the loader's `getrusage(RUSAGE_SELF).ru_maxrss` at exit (MiB). "
            "*runs/s* = `sync_runs` rows normalized ÷ wall s. *complete* = the "
            "`sync_runs` table holds exactly the world's runs, and as many open ones.",
            "- **Requests** are counted by the simulator (log reset before each load): sync-list "
            "`GET /syncs`, run-list `GET /syncs/{id}/sync_runs`, run fetch `GET /sync_runs/{id}`. "
            "**Floor**: full load ⌈syncs/100⌉ + Σ max(1, ⌈runs/100⌉); incremental ⌈syncs/100⌉ + "
            "Σ max(1, ⌈(new runs + runs open at the previous load)/100⌉). **Ideal** = floor x "
            "latency ÷ concurrency (and ≥ floor ÷ rate limit if one is set).",
            f"- **Ours**: `census_source(api_key=..., base_url=<simulator>)`, "
            f"`SOURCES__CENSUS__CONCURRENCY={context.concurrency}`, "
            f"`SOURCES__CENSUS__RATE_LIMIT={context.rate_limit:g}` in scenarios 1-3 and "
            f"`{context.throughput_rate_limit:g}` in scenarios 4-5 (req/s, 0 = no limit: "
            "at zero latency a limit would measure the limiter, not the client).",
            "- **Baseline** (`benchmarks/baseline_rest_api.py`): `rest_api_source` with `syncs` "
            "and a child `sync_runs` at `syncs/{resources.syncs.id}/sync_runs`, `page_number` "
            "paginator on `pagination.last_page`, `per_page=100`, merge on `id`, "
            + (
                f"`loader_file_format={context.baseline_format!r}`"
                if context.baseline_format
                else "dlt's default loader file format for duckdb (`insert_values`)"
            )
            + ", no incremental (dlt-hub/dlt#2429), "
            + (
                '`"parallelized": True` on the child resource'
                if context.baseline_parallel
                else "child requests sequential"
            )
            + f"; concurrency for its ideal: {base_conc}.",
            *([savvy_line] if savvy else []),
            *([ceiling_line] if context.ceilings else []),
            "- **Medians** of the repetitions are shown; ratios are baseline ÷ ours and savvy ÷ "
            "ours of the medians from the same run.",
            "- The simulator runs in its own process (multiprocessing, spawn), driven over a "
            "pipe. Its capacity below is measured with plain `http.client` keep-alive clients "
            "(threads in the harness), zero latency, random 100-run pages.",
        ]
    )


def _setup_facts(measurements: Sequence[Measurement]) -> dict[str, str]:
    """Counts of the scenario 1-2 world changes, formatted (from the first repetition)."""
    keys = {
        "s1": {"open_before": "open_before_full_load"},
        "s2": {
            "marked_open": "marked_open",
            "new_runs": "new_runs",
            "changed_state": "changed_state",
            "open_after": "open_after_advance",
        },
    }
    facts: dict[str, str] = {}
    for item in measurements:
        for name, key in keys.get(item.scenario, {}).items():
            value = item.setup.get(key)
            if name not in facts and isinstance(value, int):
                facts[name] = f"{value:,}"
    return facts


def markdown(
    summaries: dict[tuple[str, str], Summary],
    measurements: Sequence[Measurement],
    context: Context,
    chart_name: str,
) -> str:
    """The RESULTS.md text."""
    titles = scenario_titles(context.plan)
    big, small = _world_labels(context.plan)
    machine = context.machine
    machine_rows = [[key, value] for key, value in machine.items()]
    title = "Benchmark: census_source vs a plain and a savvy dlt rest_api baseline"
    if context.quick:
        title += " (QUICK smoke run, not the benchmark)"
    sections = [
        f"# {title}",
        "",
        f"Run on {machine['date']}, {context.reps} repetition(s), medians shown; whole run "
        f"took {context.elapsed_s / 60:.1f} min.",
        "",
        "```bash",
        context.command,
        "```",
        "",
        "## Machine",
        "",
        _markdown_table(("", ""), machine_rows),
        "",
        "## Results",
        "",
        _markdown_table(MAIN_HEADER, main_rows(summaries, context)),
        "",
        *[note + "\n" for note in skip_notes(context)],
        f"![wall time, requests and peak RSS per scenario]({chart_name})",
        "",
        "## Ours vs baseline (baseline ÷ ours and savvy ÷ ours, same run)",
        "",
        _markdown_table(RATIO_HEADER, ratio_rows(summaries, titles)),
        "",
        "## Targets",
        "",
        _markdown_table(("target", "measured (ours)", "result"), target_rows(summaries, context)),
        "",
    ]
    if context.ceilings:
        sections += [
            "## Fetch-and-parse ceiling (scenarios 4 and 5)",
            "",
            _markdown_table(CEILING_HEADER, ceiling_rows(summaries, context)),
            "",
        ]
        steps = step_rows(summaries, context)
        sections += (
            [
                "Where ours' wall goes: dlt's steps of `pipeline.run` (medians), and the best "
                "ours ÷ ceiling possible with this normalize and load, were extract as fast as "
                "the ceiling (ceiling wall ÷ (ceiling wall + normalize + load)):",
                "",
                _markdown_table(STEP_HEADER, steps),
                "",
            ]
            if steps
            else []
        )
    sections += [
        "## Memory growth (scenario 5)",
        "",
        _markdown_table(
            (
                "tool",
                f"peak RSS MiB, {small}",
                f"peak RSS MiB, {big}",
                "growth",
                f"≤ {RSS_GROWTH_TARGET:g}x",
            ),
            memory_rows(summaries),
        ),
        "",
        "## Requests by kind, process time, simulator load",
        "",
        _markdown_table(DETAIL_HEADER, detail_rows(summaries, titles)),
        "",
    ]
    if context.capacity:
        sections += [
            "## Simulator capacity",
            "",
            _markdown_table(
                ("client threads", "100-run pages/s", "runs/s", "simulator CPU (of one core)"),
                capacity_rows(context.capacity),
            ),
            "",
        ]
    savvy = any(item.tool == "savvy" for item in measurements)
    how = _how_measured(context, _setup_facts(measurements), savvy)
    sections += [GENERATED_LAST, "", how, ""]
    return "\n".join(sections)


def hand_written(current: str) -> str:
    """The sections after the generated ones (analysis, progress overhead, commit comparison)
    of an earlier RESULTS.md, which a rewrite keeps; "" if there are none."""
    start = current.find("\n" + GENERATED_LAST + "\n")
    if start == -1:
        return ""
    rest = current.find("\n## ", start + len(GENERATED_LAST) + 1)
    return "" if rest == -1 else current[rest + 1 :]


def chart(
    summaries: dict[tuple[str, str], Summary], titles: dict[str, str], path: Path, title: str
) -> None:
    """Three bar panels per scenario, one bar per tool: wall time, requests, peak RSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    scenarios = [s for s in titles if any((s, tool) in summaries for tool in TOOLS)]
    labels = [titles[s] for s in scenarios]
    Getter = Callable[[Summary], float]
    panels: list[tuple[str, Getter, Getter | None, bool]] = [
        ("wall time, s (log; ◆ = ideal)", lambda s: s.wall_s, lambda s: s.ideal_s, False),
        ("requests (log; ◆ = floor)", lambda s: s.requests, lambda s: float(s.floor), True),
        ("peak RSS of the loader, MiB", lambda s: s.peak_rss_mib, None, True),
    ]
    colors = {"ours": "#1f77b4", "baseline": "#ff7f0e", "savvy": "#2ca02c"}
    figure, axes = plt.subplots(1, len(panels), figsize=(17, 5.4))
    width = 0.8 / len(TOOLS)
    offsets = [(index - (len(TOOLS) - 1) / 2) * width for index in range(len(TOOLS))]
    for axis, (name, value, marker, integral) in zip(axes, panels, strict=True):
        for offset, tool in zip(offsets, TOOLS, strict=True):
            xs, heights, marks = [], [], []
            for index, scenario in enumerate(scenarios):
                found = summaries.get((scenario, tool))
                if found is None:
                    continue
                xs.append(index + offset)
                heights.append(value(found))
                if marker is not None and marker(found) > 0:
                    marks.append((index + offset, marker(found)))
            bars = axis.bar(xs, heights, width, label=TOOL_LABELS[tool], color=colors[tool])
            texts = [_short(h, integral) for h in heights]
            axis.bar_label(bars, labels=texts, fontsize=6, padding=2)
            if marks:
                axis.scatter(*zip(*marks, strict=True), marker="D", color="black", s=14, zorder=3)
        if marker is not None:
            axis.set_yscale("log")
            plain = ticker.FuncFormatter(lambda v, _: f"{v:g}")
            axis.yaxis.set_major_formatter(plain)
            axis.yaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_title(name, fontsize=10)
        axis.set_xticks(range(len(scenarios)), labels, rotation=20, fontsize=8)
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _short(value: float, integral: bool) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 100 or integral:
        return f"{value:.0f}"
    return f"{value:.1f}"
