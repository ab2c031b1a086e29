"""Files.com: values nobody designed land typed or verbatim over real HTTP (issue 12)."""

import json

import dlt

from files_com_simulator import FilesComSimulator, World
from pipelines.summary import verbatim_counts
from tests.files_com.conftest import source_for
from tests.files_com.truth import expected_runs, loaded_runs, query


def test_odd_values_land_verbatim_and_touch_nothing_else(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    sync_id = world.sync_ids[2]
    run = world.add_run(
        sync_id,
        status="failure",
        completed_at="",
        dry_run="yes",
        bytes_synced="2048",
        event_errors=["disk full", {"file": "a.csv", "code": 5}, True, 7],
    )
    pipeline.run(source_for(simulator))
    expected = expected_runs([r for r in world.ground_truth_runs() if r["id"] != run["id"]])
    loaded = loaded_runs(pipeline)
    assert sorted(loaded) == sorted([*expected, run["id"]])
    assert {run_id: loaded[run_id] for run_id in expected} == expected
    row = query(
        pipeline,
        "SELECT completed_at, completed_at__v_text, dry_run, dry_run__v_text, bytes_synced "
        f"FROM {{sync_runs}} WHERE id = {run['id']}",
    )
    assert row == [(None, "", None, "yes", 2048)]
    errors = query(
        pipeline,
        "SELECT e._dlt_list_idx, e.value, e.value__v_json, e.value__v_bool "
        "FROM {sync_runs__event_errors} e JOIN {sync_runs} r ON e._dlt_parent_id = r._dlt_id "
        f"WHERE r.id = {run['id']} ORDER BY 1",
    )
    assert errors[0] == (0, "disk full", None, None)
    assert errors[1][:2] == (1, None) and json.loads(errors[1][2]) == {"file": "a.csv", "code": 5}
    assert errors[2:] == [(2, None, None, True), (3, "7", None, None)]
    assert verbatim_counts(pipeline) == {
        "sync_runs.completed_at": 1,
        "sync_runs.dry_run": 1,
        "sync_runs__event_errors.value": 2,
    }


def test_an_undocumented_field_that_looks_like_a_timestamp_then_not_loads(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    """dlt's timestamp detection typed `extra__v_text` as a timestamp after a number and an
    ISO string, then failed the load on the next text there, on every later run too."""
    sync_id = world.sync_ids[2]
    added = [
        world.add_run(sync_id, status="success", extra=value, huge={"n": 2**70})
        for value in (0.5, "2026-01-01T10:03:07.000137Z", "yesterday")
    ]
    pipeline.run(source_for(simulator))
    ids = ", ".join(str(run["id"]) for run in added)
    rows = query(
        pipeline,
        f"SELECT extra, extra__v_text, huge__n__v_text FROM {{sync_runs}} WHERE id IN ({ids}) "
        "ORDER BY id",
    )
    assert rows == [
        (0.5, None, str(2**70)),
        (None, "2026-01-01T10:03:07.000137Z", str(2**70)),
        (None, "yesterday", str(2**70)),
    ]
