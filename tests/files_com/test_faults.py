"""Injected faults of every kind (5xx, 429, resets, broken JSON, runs changing) end exact."""

from collections import Counter

import dlt
import pytest

from files_com_simulator import (
    ALL_FAULTS,
    ALL_ODD_KINDS,
    FaultPlan,
    FilesComSimulator,
    OddValues,
    World,
)
from tests.files_com.conftest import API_KEY, source_for
from tests.files_com.truth import RUN_FIELDS, TEXT_FIELDS, assert_matches_truth, query
from tests.odd_truth import assert_variants, split_truth

RETRY_ENV = {
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "4",  # > max_consecutive faults of one request
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "0",
    "RUNTIME__REQUEST_TIMEOUT": "1",  # a "slow" fault is a read timeout, then a retry
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "2",
}


def load_under_faults(
    seed: int,
    pipeline: dlt.Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    rounds: int = 3,
    odd_rate: float = 0.0,
) -> Counter[str]:
    """Full load, then incremental loads after each advance, all faulted; a calm last load.

    With `odd_rate`, the simulator also sends values nobody designed (its odd-payloads mode).
    """
    for name, value in RETRY_ENV.items():
        monkeypatch.setenv(name, value)
    odd = OddValues(seed=seed, rate=odd_rate) if odd_rate else None
    world = World(seed=seed, sync_run_counts=(0, 3, 150, 900, 40), stuck_open=1, odd=odd)
    plan = FaultPlan(seed=seed, rate=0.3, kinds=ALL_FAULTS, max_consecutive=2, slow_seconds=1.5)
    with FilesComSimulator(world, api_key=API_KEY, faults=plan) as sim:
        for round_number in range(rounds):
            pipeline.run(source_for(sim, per_page=60))
            duplicates = query(
                pipeline, "SELECT id FROM {sync_runs} GROUP BY id HAVING count(*) > 1"
            )
            assert not duplicates
            world.advance(seconds=1800 + 600 * round_number, new_runs_per_sync=60)
        sim.faults = None  # runs created or finished after their page was read come next load
        pipeline.run(source_for(sim, per_page=60))
    truth, variants = split_truth(world.ground_truth_runs(), world.odd_values(), TEXT_FIELDS, str)
    assert_matches_truth(pipeline, truth)
    assert_variants(pipeline, variants, RUN_FIELDS)
    return plan.injected + world.odd_injected()


def test_exact_tables_under_faults_and_odd_values(
    pipeline: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    injected = load_under_faults(8, pipeline, monkeypatch, odd_rate=0.15)
    assert len({kind for kind in injected if kind in ALL_ODD_KINDS}) >= 8, injected


@pytest.mark.parametrize(
    "seed", [6, 7]
)  # seeds whose draws include resets, broken JSON, runs changing
def test_exact_tables_under_thirty_percent_faults(
    seed: int, pipeline: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    injected = load_under_faults(seed, pipeline, monkeypatch)
    assert sum(injected.values()) >= 8, injected  # the faults really happened
    assert {"reset", "truncated", "finish_run"} <= set(injected) and len(injected) >= 7, injected


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 120))
def test_fault_soak(seed: int, pipeline: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sum(load_under_faults(seed, pipeline, monkeypatch, odd_rate=0.05).values()) > 0
