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
