"""Health views on DuckDB, compared with values computed by hand from the simulator's truth."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from pipelines.health_views import (
    CENSUS,
    NoRunDataError,
    create_health_views,
    health_views_exist,
)
from tests.conftest import TOKEN, PipelineFactory, source_for
from tests.health_truth import (
    assert_rows_equal,
    expected_daily,
    expected_errors,
    expected_health,
    view_rows,
)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# a session time zone far from UTC: days must still be UTC dates
FAR_FROM_UTC = "SET TimeZone = 'Pacific/Kiritimati'"


def add(world: World, sync_id: int, status: str, created: datetime, **fields: Any) -> int:
    """Add a run; `completed` (seconds after created, or None) sets completed_at."""
    seconds = fields.pop("completed", 60.0)
    fields = {"records_failed": 0, "records_invalid": 0, **fields}
    completed = None if seconds is None else created + timedelta(seconds=seconds)
    if status in ("queued", "working", "cancelling"):
        completed = None
    run = world.add_run(
        sync_id, status=status, created_at=created, completed_at=completed, **fields
    )
    return int(run["id"])


def crafted_world() -> World:
    """Six syncs: no runs, only open runs, a failure streak, window edges, never succeeded,
    and two runs created at the same instant."""
    world = World(seed=2, sync_run_counts=(0, 0, 0, 0, 0, 0))
    empty, open_only, streak, edges, never, tie = (s["id"] for s in world.syncs)
    del empty
    add(world, open_only, "queued", NOW - timedelta(hours=1))
    add(world, open_only, "working", NOW - timedelta(minutes=30))
    add(world, open_only, "cancelling", NOW - timedelta(minutes=20))

    add(world, streak, "completed", NOW - 10 * DAY, completed=300.0)
    add(world, streak, "failed", NOW - 8 * DAY, completed=None, records_failed=None)
    add(world, streak, "completed", NOW - 3 * DAY, completed=100.0)
    add(world, streak, "failed", NOW - 2 * DAY, completed=50.0, records_failed=7, records_invalid=3)
    add(world, streak, "skipped", NOW - 1.5 * DAY, completed=1.0)
    add(world, streak, "failed", NOW - DAY, completed=300.5)
    add(world, streak, "working", NOW - timedelta(minutes=10))

    before_midnight = datetime(2024, 2, 20, 23, 50, tzinfo=UTC)
    add(world, edges, "completed", before_midnight, completed=1800.0)  # ends 2024-02-21
    add(world, edges, "failed", datetime(2024, 2, 21, tzinfo=UTC), completed=10.0)
    add(world, edges, "failed", NOW - 7 * DAY, completed=10.0)  # on the 7-day edge: out
    add(world, edges, "completed", NOW - 30 * DAY - timedelta(seconds=1))  # out of 30 days
    add(world, edges, "completed", NOW)  # exactly now: in
    add(world, edges, "failed", NOW + timedelta(seconds=1))  # after now: in no window

    add(world, never, "failed", NOW - 5 * DAY, completed=20.0)
    add(world, never, "failed", NOW - 4 * DAY, completed=None)
    add(world, never, "skipped", NOW - 3 * DAY)

    same = NOW - 2 * DAY
    add(world, tie, "completed", same, completed=30.0)
    add(world, tie, "failed", same, completed=30.0)  # same instant, higher id: newer
    return world


def load(world: World, pipeline: dlt.Pipeline, advance: bool = False) -> None:
    with CensusSimulator(world, token=TOKEN) as sim:
        pipeline.run(source_for(sim))
        if advance:
            world.advance(seconds=7200, new_runs_per_sync=3, add_syncs=1)
            pipeline.run(source_for(sim))


def assert_views_match(
    pipeline: dlt.Pipeline, world: World, now: datetime, setup: str | None = None
) -> None:
    runs, syncs = world.ground_truth_runs(), world.ground_truth_syncs()
    health = {(r["source"], r["sync_id"]): r for r in view_rows(pipeline, "sync_health", setup)}
    assert_rows_equal(health, expected_health(runs, syncs, now))
    daily_rows = view_rows(pipeline, "sync_run_daily", setup)
    daily = {(r["source"], r["sync_id"], r["day"]): r for r in daily_rows}
    assert len(daily) == len(daily_rows)
    assert_rows_equal(daily, expected_daily(runs))
    errors = view_rows(pipeline, "sync_run_errors", setup)
    assert errors == expected_errors(runs, syncs)  # exact, and newest first


def test_views_match_hand_computed_values_on_edge_cases(pipeline: dlt.Pipeline) -> None:
    world = crafted_world()
    load(world, pipeline)

    assert create_health_views(pipeline, now=NOW) == [
        "sync_health",
        "sync_run_daily",
        "sync_run_errors",
    ]

    assert_views_match(pipeline, world, NOW, setup=FAR_FROM_UTC)
    empty, open_only, streak, edges, never, tie = (str(s["id"]) for s in world.syncs)
    health = {r["sync_id"]: r for r in view_rows(pipeline, "sync_health")}
    assert health[empty]["runs"] == 0 and health[empty]["last_run_status"] is None
    assert health[empty]["consecutive_failures"] == 0
    assert health[open_only]["runs"] == 3
    assert health[open_only]["last_run_status"] == "cancelling"
    assert health[open_only]["finished_runs_30d"] == 0
    assert health[open_only]["failure_rate_7d"] is None
    assert health[open_only]["last_success_at"] is None
    assert health[streak]["consecutive_failures"] == 2  # skipped and open runs don't break it
    assert health[streak]["last_run_status"] == "working"
    assert health[streak]["failure_rate_7d"] == 2 / 3
    assert health[streak]["failure_rate_30d"] == 3 / 5
    assert health[streak]["records_failed_7d"] == 7 and health[streak]["records_invalid_7d"] == 3
    assert health[streak]["last_success_at"] == NOW - 3 * DAY + timedelta(seconds=100)
    assert health[streak]["p50_duration_s"] == 200.0  # of 50, 100, 300, 300.5
    assert health[streak]["p95_duration_s"] == pytest.approx(300.425, rel=1e-12)
    assert health[edges]["finished_runs_7d"] == 1  # only the run at exactly now
    assert health[edges]["finished_runs_30d"] == 4  # not the one 30 days + 1 s ago
    assert health[edges]["last_run_status"] == "failed"  # the run after now is still the newest
    assert health[never]["consecutive_failures"] == 2
    assert health[never]["last_success_at"] is None
    assert health[never]["failure_rate_30d"] == 1.0
    assert health[tie]["consecutive_failures"] == 1
    daily = {(r["sync_id"], r["day"]): r for r in view_rows(pipeline, "sync_run_daily")}
    assert daily[(edges, date(2024, 2, 20))]["runs"] == 1  # started before midnight
    assert daily[(edges, date(2024, 2, 21))]["failed_runs"] == 1
    errors = view_rows(pipeline, "sync_run_errors")
    assert [(e["sync_id"], e["created_at"]) for e in errors[:2]] == [  # newest first
        (edges, NOW + timedelta(seconds=1)),
        (streak, NOW - DAY),
    ]


def test_views_match_ground_truth_after_full_and_incremental_loads(
    world: World, pipeline: dlt.Pipeline
) -> None:
    load(world, pipeline, advance=True)

    create_health_views(pipeline, now=world.now)

    assert_views_match(pipeline, world, world.now, setup=FAR_FROM_UTC)
    health = view_rows(pipeline, "sync_health")
    assert any(r["failure_rate_30d"] for r in health)  # the comparison covers real values
    assert any(r["p95_duration_s"] for r in health)


def test_views_use_the_current_time_without_now(world: World, pipeline: dlt.Pipeline) -> None:
    load(world, pipeline)

    create_health_views(pipeline)

    real_now = datetime.now(UTC)
    runs = world.ground_truth_runs()
    for row in view_rows(pipeline, "sync_health"):
        expected = expected_health(runs, world.ground_truth_syncs(), real_now)
        assert row["finished_runs_30d"] == expected[("census", row["sync_id"])]["finished_runs_30d"]


def test_syncs_without_any_run_table(pipeline: dlt.Pipeline) -> None:
    world = World(seed=4, sync_run_counts=(0, 0))
    load(world, pipeline)

    create_health_views(pipeline, now=NOW)

    assert_views_match(pipeline, world, NOW)
    assert [r["runs"] for r in view_rows(pipeline, "sync_health")] == [0, 0]


def test_empty_dataset_names_what_to_run(pipeline: dlt.Pipeline) -> None:
    with pytest.raises(NoRunDataError, match=r"run `syncruns run`"):
        create_health_views(pipeline)
    assert not health_views_exist(pipeline)


def test_one_more_source_is_one_more_run_source(
    tmp_path: Path, make_pipeline: PipelineFactory
) -> None:
    """Two sources in two datasets: the views union them, each row tagged with its source."""
    first, second = World(seed=5, sync_run_counts=(3, 40)), World(seed=6, sync_run_counts=(7, 60))
    main = make_pipeline("health_main", dataset="main_data")
    other = dlt.pipeline(
        pipeline_name="health_other",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "health_main.duckdb")),
        dataset_name="other_data",
    )
    load(first, main)
    load(second, other)
    mirror = replace(CENSUS, name="mirror", dataset="other_data")

    create_health_views(main, sources=(CENSUS, mirror), now=NOW)

    health = view_rows(main, "sync_health")
    by_source = {
        name: {(r["source"], r["sync_id"]): r for r in health if r["source"] == name}
        for name in ("census", "mirror")
    }
    truth = [(first, "census"), (second, "mirror")]
    for world, name in truth:
        expected = expected_health(world.ground_truth_runs(), world.ground_truth_syncs(), NOW, name)
        assert_rows_equal(by_source[name], expected)
        errors = [e for e in view_rows(main, "sync_run_errors") if e["source"] == name]
        assert errors, f"no failed runs of {name}: the comparison would prove nothing"
        assert errors == expected_errors(
            world.ground_truth_runs(), world.ground_truth_syncs(), name
        )
