"""Rejected and invalid records (`sync_run_records`): exact, once per run, retention honoured."""

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, FaultPlan, World
from census_source.timestamps import parse_timestamp
from pipelines.summary import sync_runs_metrics
from tests.conftest import PERSONAL_TOKEN, TOKEN, source_for, source_v2_for
from tests.truth import query, table

RETENTION = timedelta(days=14)
COUNTS = (0, 1, 60, 130, 900, 25)


def world_ending_now(seed: int, counts: tuple[int, ...] = COUNTS) -> World:
    """A world whose clock is (just under) the real now, so retention means what it says."""
    return World.ending_near(datetime.now(UTC), seed=seed, sync_run_counts=counts)


def finished(run: dict[str, Any]) -> datetime:
    return parse_timestamp(run.get("completed_at") or run["created_at"])


def statuses_to_fetch(run: dict[str, Any]) -> list[str]:
    if run.get("status") not in ("completed", "failed"):
        return []
    wanted = []
    if (run.get("records_failed") or 0) > 0:
        wanted.append("rejected")
    if (run.get("records_invalid") or 0) > 0 or (run.get("source_record_invalids") or 0) > 0:
        wanted.append("invalid")
    return wanted


def record_truth(
    world: World, cutoff: datetime, id_of: Any = lambda value: value
) -> tuple[Counter[tuple[Any, ...]], set[int], set[int]]:
    """Expected rows, the runs whose records load, and the runs skipped as past retention."""
    rows: Counter[tuple[Any, ...]] = Counter()
    loaded: set[int] = set()
    expired: set[int] = set()
    for run in world.ground_truth_runs():
        wanted = statuses_to_fetch(run)
        if not wanted:
            continue
        if finished(run) < cutoff:
            expired.add(run["id"])
            continue
        loaded.add(run["id"])
        for status in wanted:
            for record in world.records_of(run["id"], status=status):
                rows[_row(id_of(run["id"]), id_of(run["sync_id"]), record)] += 1
    return rows, loaded, expired


def _row(run_id: Any, sync_id: Any, record: dict[str, Any]) -> tuple[Any, ...]:
    def instant(value: Any) -> Any:
        return None if value is None else parse_timestamp(value)

    return (
        run_id,
        sync_id,
        record["status"],
        record["operation"],
        record["identifier"],
        record["status_message"],
        instant(record["batch_started_at"]),
        instant(record["batch_completed_at"]),
        json.dumps(record["record_payload"], sort_keys=True),
    )


def loaded_records(pipeline: dlt.Pipeline) -> Counter[tuple[Any, ...]]:
    rows = query(
        pipeline,
        "SELECT sync_run_id, sync_id, status, operation, identifier, status_message, "
        f"batch_started_at, batch_completed_at, record_payload "
        f"FROM {table(pipeline, 'sync_run_records')}",
    )
    return Counter(
        (*row[:8], json.dumps(json.loads(row[8]) if row[8] is not None else None, sort_keys=True))
        for row in rows
    )


def record_requests(sim: CensusSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith("/records")]


def expected_record_requests(world: World, runs: set[int]) -> int:
    pages = 0
    for run_id in runs:
        run = world.run(run_id)
        assert run is not None
        for status in statuses_to_fetch(run):
            pages += max(1, math.ceil(len(world.records_of(run_id, status=status)) / 100))
    return pages


@pytest.fixture
def recent_world() -> World:
    return world_ending_now(seed=2)


@pytest.fixture
def recent_simulator(recent_world: World) -> Any:
    with CensusSimulator(recent_world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        yield sim


def load_checked(pipeline: dlt.Pipeline, source: Any) -> tuple[datetime, datetime]:
    before = datetime.now(UTC)
    pipeline.run(source)
    return before, datetime.now(UTC)


def no_run_near_the_cutoff(world: World, before: datetime, after: datetime) -> None:
    """Guard: a run finishing within the load's own duration of the cutoff would be ambiguous."""
    low, high = before - RETENTION - timedelta(seconds=1), after - RETENTION + timedelta(seconds=1)
    assert not [r for r in world.ground_truth_runs() if low <= finished(r) <= high]


def test_records_of_finished_runs_load_exactly_once(
    recent_world: World, recent_simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    before, after = load_checked(pipeline, source_for(recent_simulator, include_records=True))
    no_run_near_the_cutoff(recent_world, before, after)
    expected, runs, expired = record_truth(recent_world, after - RETENTION)
    assert runs and expired, "the world must have runs on both sides of the retention cutoff"
    assert loaded_records(pipeline) == expected
    assert len(record_requests(recent_simulator)) == expected_record_requests(recent_world, runs)
    metrics = sync_runs_metrics(pipeline)
    assert metrics["records_runs"] == len(runs)
    assert metrics["records_expired_runs"] == len(expired)
    keys = query(
        pipeline,
        f"SELECT COUNT(*), COUNT(DISTINCT (sync_run_id, record_key)) "
        f"FROM {table(pipeline, 'sync_run_records')}",
    )
    assert keys[0][0] == keys[0][1] == sum(expected.values())

    # nothing new: no record is asked for again
    recent_simulator.reset_log()
    pipeline.run(source_for(recent_simulator, include_records=True))
    assert record_requests(recent_simulator) == []
    assert loaded_records(pipeline) == expected

    # time moves on: only the runs that finished since are asked for
    report = recent_world.advance(seconds=6 * 3600, new_runs_per_sync=4)
    assert report.new_run_ids
    recent_simulator.reset_log()
    pipeline.run(source_for(recent_simulator, include_records=True))
    expected_now, runs_now, _ = record_truth(recent_world, after - RETENTION)
    assert loaded_records(pipeline) == expected_now
    assert len(record_requests(recent_simulator)) == expected_record_requests(
        recent_world, runs_now - runs
    )


def test_records_are_off_by_default(
    recent_simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(recent_simulator))
    assert record_requests(recent_simulator) == []
    assert "sync_run_records" not in pipeline.default_schema.tables


def test_a_410_counts_as_past_retention_not_as_an_error(
    recent_world: World, pipeline: dlt.Pipeline
) -> None:
    # the API keeps 2 days, we assume 14: every run between is answered 410 and skipped
    with CensusSimulator(recent_world, token=TOKEN, records_retention_days=2) as sim:
        pipeline.run(source_for(sim, include_records=True))
        gone = [r for r in record_requests(sim) if r.status == 410]
        assert gone
        world_cutoff = recent_world.now - timedelta(days=2)
        expected, runs, _ = record_truth(recent_world, world_cutoff)
        assert loaded_records(pipeline) == expected
        metrics = sync_runs_metrics(pipeline)
        assert metrics["records_runs"] == len(runs)
        sim.reset_log()
        pipeline.run(source_for(sim, include_records=True))
        assert record_requests(sim) == []  # expired runs are not asked again


def test_records_over_v2_with_text_ids(
    recent_world: World, recent_simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    before, after = load_checked(pipeline, source_v2_for(recent_simulator, include_records=True))
    no_run_near_the_cutoff(recent_world, before, after)
    expected, runs, _ = record_truth(recent_world, after - RETENTION, id_of=str)
    assert runs
    assert loaded_records(pipeline) == expected
    assert all(r.path.startswith("/api/v2/") for r in record_requests(recent_simulator))


@pytest.mark.parametrize(
    ("seed", "version"), [(3, "v2"), pytest.param(8, "v1", marks=pytest.mark.slow)]
)
def test_records_stay_exact_under_faults(
    recent_world: World, pipeline: dlt.Pipeline, seed: int, version: str
) -> None:
    plan = FaultPlan(seed=seed, rate=0.1)
    make = source_v2_for if version == "v2" else source_for
    with CensusSimulator(
        recent_world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, faults=plan
    ) as sim:
        for _ in range(3):  # a sync failing after every retry is caught up by the next run
            _before, after = load_checked(pipeline, make(sim, include_records=True))
        sim.faults = None
        pipeline.run(make(sim, include_records=True))
    id_of = str if version == "v2" else (lambda value: value)
    expected, _, _ = record_truth(recent_world, after - RETENTION, id_of=id_of)
    assert loaded_records(pipeline) == expected
