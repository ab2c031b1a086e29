"""Concurrency and rate limiting: exact results at any worker count, request floor, ceiling held."""

import math
from collections import Counter
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from census_source import CensusConfigError
from tests.conftest import TOKEN, PipelineFactory, source_for
from tests.test_source_edges import cursors
from tests.truth import assert_matches_truth, query, table


def dump(pipeline: dlt.Pipeline) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of both run tables, columns by name (their order follows arrival), without
    dlt's load ids, sorted."""
    dumped = {}
    for key, name in (("runs", "sync_runs"), ("reasons", "sync_runs__sync_trigger_reason")):
        columns = sorted(set(pipeline.default_schema.get_table_columns(name)) - {"_dlt_load_id"})
        select = ", ".join(f'"{column}"' for column in columns)
        rows = query(pipeline, f"SELECT {select} FROM {table(pipeline, name)}")
        dumped[key] = sorted(rows, key=repr)
    return dumped


@pytest.mark.parametrize("rate_limit", [0.0, 200.0])
def test_results_are_identical_with_1_and_8_workers(
    make_pipeline: PipelineFactory, rate_limit: float
) -> None:
    dumps, states = [], []
    for concurrency in (1, 8):
        world = World(seed=21)
        pipeline = make_pipeline(name=f"workers_{concurrency}")
        with CensusSimulator(world, token=TOKEN) as sim:
            options = {"concurrency": concurrency, "rate_limit": rate_limit}
            pipeline.run(source_for(sim, **options))
            world.advance(seconds=5400, new_runs_per_sync=4, add_syncs=2)
            pipeline.run(source_for(sim, **options))
        assert_matches_truth(pipeline, world.ground_truth_runs())
        dumps.append(dump(pipeline))
        states.append(cursors(pipeline))
    assert dumps[0] == dumps[1]
    assert states[0] == states[1]


def open_runs_by_sync(pipeline: dlt.Pipeline) -> dict[int, int]:
    return {int(sid): len(cursor["open_runs"]) for sid, cursor in cursors(pipeline).items()}


def floor(sync_count: int, reads: dict[int, int]) -> int:
    """⌈syncs/100⌉ + Σ max(1, ⌈(new + open runs to re-read)/100⌉)."""
    return math.ceil(sync_count / 100) + sum(max(1, math.ceil(n / 100)) for n in reads.values())


def test_incremental_and_no_change_runs_make_exactly_the_floor(
    simulator: CensusSimulator, world: World, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator, concurrency=8))
    open_before = open_runs_by_sync(pipeline)
    assert sum(open_before.values()) > 0  # the world has open runs to re-read
    report = world.advance(seconds=3600, new_runs_per_sync=12)
    new = Counter(world.run(run_id)["sync_id"] for run_id in report.new_run_ids)  # type: ignore[index]
    simulator.reset_log()

    pipeline.run(source_for(simulator, concurrency=8))

    syncs = {s["id"] for s in world.syncs}
    reads = {sid: new[sid] + open_before.get(sid, 0) for sid in syncs}
    assert len(simulator.requests) == floor(len(syncs), reads)
    assert_matches_truth(pipeline, world.ground_truth_runs())

    simulator.reset_log()
    pipeline.run(source_for(simulator, concurrency=8))
    still_open = open_runs_by_sync(pipeline)
    assert len(simulator.requests) == floor(len(syncs), {s: still_open.get(s, 0) for s in syncs})


def test_the_rate_limit_holds_its_ceiling(
    simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    rate = 25.0
    pipeline.run(source_for(simulator, concurrency=8, rate_limit=rate))

    starts = sorted(entry.started for entry in simulator.requests)
    assert len(starts) > 30
    # no one-second window holds more than rate + 1 request starts (+1: the window's edge),
    # +2 for the server's clock: under CPU load it picks up evenly spaced sends in twos
    worst = max(sum(1 for t in starts[i:] if t < start + 1.0) for i, start in enumerate(starts))
    assert worst <= rate + 3
    assert starts[-1] - starts[0] >= (len(starts) - 1) / rate * 0.95


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency must be between 1 and 64"),
        ({"concurrency": 65}, "concurrency must be between 1 and 64"),
        ({"rate_limit": -1.0}, "rate_limit must be >= 0"),
    ],
)
def test_bad_tuning_is_refused(
    simulator: CensusSimulator, options: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(CensusConfigError, match=message):
        source_for(simulator, **options)
