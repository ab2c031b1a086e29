"""Injected faults of every kind end in exact tables, and a sync that keeps failing is contained."""

from collections import Counter
from collections.abc import Iterator

import dlt
import pytest

from hightouch_simulator import (
    ALL_FAULTS,
    ALL_ODD_KINDS,
    FaultPlan,
    HightouchSimulator,
    OddValues,
    World,
)
from tests.hightouch.conftest import TOKEN, source_for
from tests.hightouch.truth import (
    RUN_COLUMNS,
    TEXT_FIELDS,
    assert_matches_truth,
    column_name,
    cursors,
    query,
    table,
)
from tests.odd_truth import assert_variants, split_truth

RETRIES = {
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "4",  # > max_consecutive faults of one request
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "0",
}


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in RETRIES.items():
        monkeypatch.setenv(key, value)
    yield


def assert_no_duplicates(pipeline: dlt.Pipeline) -> None:
    rows = query(pipeline, f"SELECT id, COUNT(*) FROM {table(pipeline, 'sync_runs')} GROUP BY 1")
    assert all(count == 1 for _, count in rows), "a run id loaded twice"


def failed_syncs(pipeline: dlt.Pipeline) -> dict[str, str]:
    """The `failed_syncs` custom metric of `sync_runs` in the last extract (dlt's trace)."""
    from hightouch_source import FAILED_SYNCS

    extract = pipeline.last_trace.last_extract_info if pipeline.last_trace else None
    assert extract is not None
    failed: dict[str, str] = {}
    for step_metrics in extract.metrics.values():
        for metrics in step_metrics:
            custom = metrics["resource_metrics"].get("sync_runs")
            if custom is not None:
                failed.update(custom.custom_metrics.get(FAILED_SYNCS, {}))
    return failed


def load_under_faults(
    seed: int, pipeline: dlt.Pipeline, rate: float, odd_rate: float = 0.0
) -> Counter[str]:
    """A full load and three incremental loads under faults, then one calm load: exact tables.

    With `odd_rate`, the simulator also sends values nobody designed (its odd-payloads mode).
    """
    odd = OddValues(seed=seed, rate=odd_rate) if odd_rate else None
    world = World(seed=seed, sync_run_counts=(0, 1, 99, 100, 101, 350, 7, 30), odd=odd)
    plan = FaultPlan(seed=seed, rate=rate, kinds=ALL_FAULTS, max_consecutive=2)
    with HightouchSimulator(world, token=TOKEN, faults=plan) as sim:
        for round_number in range(4):
            pipeline.run(source_for(sim, concurrency=4))
            assert_no_duplicates(pipeline)
            world.advance(seconds=1800 + 600 * round_number, new_runs_per_sync=2 + round_number)
        sim.faults = None  # runs a fault inserted after their sync was read: one calm load
        pipeline.run(source_for(sim, concurrency=4))
    assert_no_duplicates(pipeline)
    truth, variants = split_truth(
        world.ground_truth_runs(), world.odd_values(), TEXT_FIELDS, column_name
    )
    assert_matches_truth(pipeline, truth)
    assert_variants(pipeline, variants, RUN_COLUMNS)
    return plan.injected + world.odd_injected()


def test_exact_tables_under_faults_and_odd_values(pipeline: dlt.Pipeline, retries: None) -> None:
    injected = load_under_faults(3, pipeline, rate=0.2, odd_rate=0.15)
    assert len({kind for kind in injected if kind in ALL_ODD_KINDS}) >= 8, injected


@pytest.mark.parametrize("seed", [4, 5])  # seeds whose draws cover most kinds
def test_exact_tables_under_injected_faults(
    seed: int, pipeline: dlt.Pipeline, retries: None
) -> None:
    injected = load_under_faults(seed, pipeline, rate=0.3)
    assert len(injected) >= 7, injected  # most kinds really happened


def test_a_sync_that_keeps_failing_keeps_its_cursor_and_catches_up(
    world: World, pipeline: dlt.Pipeline, retries: None
) -> None:
    broken = world.syncs[4]["id"]
    always = FaultPlan(seed=1, rate=1.0, kinds=["503"], only_paths=f"/syncs/{broken}/runs")
    with HightouchSimulator(world, token=TOKEN, faults=always) as sim:
        pipeline.run(source_for(sim))
        failed = failed_syncs(pipeline)
        assert list(failed) == [broken]
        assert failed[broken].startswith(
            f"Hightouch API kept answering 503 on GET /api/v1/syncs/{broken}/runs"
        )
        assert broken not in cursors(pipeline)
        assert len(cursors(pipeline)) == len(world.syncs) - 1
        truth = world.ground_truth_runs()
        assert_matches_truth(pipeline, [run for run in truth if run["syncId"] != broken])

        sim.faults = None  # the endpoint recovers: the next load catches the sync up exactly
        pipeline.run(source_for(sim))
    assert failed_syncs(pipeline) == {}
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert broken in cursors(pipeline)
