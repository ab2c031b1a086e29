"""Hightouch: values nobody designed land typed or verbatim over real HTTP (issue 12)."""

import json

import dlt

from hightouch_simulator import HightouchSimulator, World
from pipelines.summary import verbatim_counts
from tests.hightouch.conftest import source_for
from tests.hightouch.truth import expected_row, loaded_runs, query, table


def test_odd_values_land_verbatim_and_touch_nothing_else(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = str(world.syncs[6]["id"])
    empty = world.add_run(sync_id, finishedAt="")
    counts = world.add_run(
        sync_id,
        querySize="12",
        plannedRows={"addedCount": True, "changedCount": 3.0, "removedCount": 2**70},
        error={"message": "boom", "code": 7},
    )
    pipeline.run(source_for(simulator))
    odd = {empty["id"], counts["id"]}
    expected = {r["id"]: expected_row(r) for r in world.ground_truth_runs() if r["id"] not in odd}
    loaded = loaded_runs(pipeline)
    assert sorted(loaded) == sorted([*expected, *odd])
    assert {run_id: loaded[run_id] for run_id in expected} == expected
    runs = table(pipeline, "sync_runs")
    assert query(
        pipeline, f"SELECT finished_at, finished_at__v_text FROM {runs} WHERE id = {empty['id']}"
    ) == [(None, "")]
    columns = (
        "query_size, planned_rows__added_count, planned_rows__added_count__v_bool, "
        "planned_rows__changed_count, planned_rows__removed_count__v_text, error, error__v_json"
    )
    row = query(pipeline, f"SELECT {columns} FROM {runs} WHERE id = {counts['id']}")[0]
    assert row[:6] == (12, None, True, 3, str(2**70), None)
    assert json.loads(row[6]) == {"message": "boom", "code": 7}
    assert verbatim_counts(pipeline) == {
        "sync_runs.finished_at": 1,
        "sync_runs.planned_rows__added_count": 1,
        "sync_runs.planned_rows__removed_count": 1,
        "sync_runs.error": 1,
    }


def test_an_undocumented_field_that_looks_like_a_timestamp_then_not_loads(
    world: World, simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    """dlt's timestamp detection typed `extra__v_text` as a timestamp after a number and an
    ISO string, then failed the load (and every later one) on the next text there; an
    integer beyond int64 in an undocumented object failed it too."""
    sync_id = str(world.syncs[6]["id"])
    added = [
        world.add_run(sync_id, extra=value, plannedRows={"detail": {"n": 2**70}})
        for value in (0.5, "2026-01-01T10:03:07.000137Z", "yesterday")
    ]
    pipeline.run(source_for(simulator))
    ids = ", ".join(str(run["id"]) for run in added)
    columns = "extra, extra__v_text, planned_rows__detail__n__v_text"
    rows = query(
        pipeline,
        f"SELECT {columns} FROM {table(pipeline, 'sync_runs')} WHERE id IN ({ids}) ORDER BY id",
    )
    assert rows == [
        (0.5, None, str(2**70)),
        (None, "2026-01-01T10:03:07.000137Z", str(2**70)),
        (None, "yesterday", str(2**70)),
    ]
