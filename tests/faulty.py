"""Loads under injected faults, checked against ground truth: shared by the suite and soak runs."""

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dlt

from census_simulator import ALL_FAULTS, CensusSimulator, FaultPlan, OddValues, World
from tests.conftest import TOKEN, source_for
from tests.odd_truth import assert_variants, split_truth
from tests.truth import RUN_FIELDS, assert_matches_truth, query, table

TEXT_FIELDS = frozenset({"status", "current_step", "error_code", "error_message", "error_detail"})

SLOW_FAULT_S = 1.5
RETRY_ENV = {
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "6",  # > max_consecutive faults of one request
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "0",
    "RUNTIME__REQUEST_TIMEOUT": "1",  # a "slow" fault is a read timeout, then a retry
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "2",
}


@contextmanager
def retry_settings() -> Iterator[None]:
    """Retry settings for fault runs; restored afterwards."""
    saved = {key: os.environ.get(key) for key in RETRY_ENV}
    os.environ.update(RETRY_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def assert_no_duplicates(pipeline: dlt.Pipeline) -> None:
    """No run id twice, no trigger-reason row twice."""
    for name, key in (("sync_runs", "id"), ("sync_runs__sync_trigger_reason", "sync_run_id")):
        rows = query(pipeline, f"SELECT {key}, COUNT(*) FROM {table(pipeline, name)} GROUP BY 1")
        assert all(count == 1 for _, count in rows), f"duplicate {key} in {name}"


def load_under_faults(
    seed: int,
    pipeline: dlt.Pipeline,
    rate: float = 0.1,
    runs: int = 3,
    concurrency: int = 4,
    odd_rate: float = 0.0,
) -> Counter[str]:
    """Full load then incremental runs with faults, a last fault-free run; assert exact tables.

    With `odd_rate`, the simulator also sends values nobody designed (its odd-payloads mode).
    """
    odd = OddValues(seed=seed, rate=odd_rate) if odd_rate else None
    world = World(seed=seed, sync_run_counts=(0, 1, 99, 100, 101, 1200, 7, 30), odd=odd)
    plan = FaultPlan(
        seed=seed, rate=rate, kinds=ALL_FAULTS, max_consecutive=2, slow_seconds=SLOW_FAULT_S
    )
    options: dict[str, Any] = {"concurrency": concurrency}
    with retry_settings(), CensusSimulator(world, token=TOKEN, faults=plan) as sim:
        for round_number in range(runs):
            pipeline.run(source_for(sim, **options))
            assert_no_duplicates(pipeline)
            world.advance(seconds=1800 + 600 * round_number, new_runs_per_sync=3 + round_number)
        sim.faults = (
            None  # runs inserted mid-paging by a fault are newer: one calm run fetches them
        )
        pipeline.run(source_for(sim, **options))
    assert_no_duplicates(pipeline)
    truth, variants = split_truth(world.ground_truth_runs(), world.odd_values(), TEXT_FIELDS, str)
    assert_matches_truth(pipeline, truth)
    assert_variants(pipeline, variants, RUN_FIELDS)
    return plan.injected + world.odd_injected()
