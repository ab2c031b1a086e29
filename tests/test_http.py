"""HTTP behaviour: retries on bad bodies and throttling, clear errors, no token in logs."""

import logging
import time

import dlt
import pytest

from census_simulator import Response, World
from pipelines.exit_codes import ExitCode, classify
from pipelines.summary import sync_problems
from tests.conftest import TOKEN, source_for
from tests.scripted import Scripted, ScriptedSimulator, page_of
from tests.test_source_edges import cursors
from tests.truth import assert_matches_truth, query, table


def loaded_sync_ids(pipeline: dlt.Pipeline) -> set[int]:
    return {
        row[0]
        for row in query(pipeline, f"SELECT DISTINCT sync_id FROM {table(pipeline, 'sync_runs')}")
    }


HTML = Response(
    200,
    b"<html><body>502 Bad Gateway</body></html>",
    (("Content-Type", "text/html; charset=utf-8"),),
)
TRUNCATED = Response(200, b'{"status": "success", "data": [{"id": 1, "sync_')
NO_ENVELOPE = Response(200, b'{"status": "success", "data": []}')


def small_world() -> World:
    return World(seed=3, sync_run_counts=(150, 20))


def runs_path(world: World, index: int) -> str:
    return f"/syncs/{world.syncs[index]['id']}/sync_runs"


@pytest.mark.parametrize("fault", [HTML, TRUNCATED], ids=["html", "truncated"])
def test_a_bad_body_is_retried(fault: Response, pipeline: dlt.Pipeline) -> None:
    world = small_world()
    with ScriptedSimulator(world, Scripted(page_of(runs_path(world, 0), "2"), fault)) as sim:
        pipeline.run(source_for(sim))
        assert sum(r.path.endswith(runs_path(world, 0)) for r in sim.requests) == 3
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_a_bad_body_that_persists_fails_that_sync_only(pipeline: dlt.Pipeline) -> None:
    world = small_world()
    path = runs_path(world, 0)
    broken, healthy = world.syncs[0]["id"], world.syncs[1]["id"]
    always = Scripted(page_of(path, "2"), HTML, times=None)
    with ScriptedSimulator(world, always) as sim:
        pipeline.run(source_for(sim))
        failed, _ = sync_problems(pipeline)
        assert list(failed) == [str(broken)]
        assert failed[str(broken)].startswith(f"GET {path} page 2 answered a body that is not JSON")
        assert str(broken) not in cursors(pipeline) and str(healthy) in cursors(pipeline)
        assert loaded_sync_ids(pipeline) >= {healthy}

        always.times = 0  # the endpoint recovers: the next run catches the sync up exactly
        pipeline.run(source_for(sim))
    assert sync_problems(pipeline) == ({}, [])
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_when_every_sync_fails_the_run_fails(pipeline: dlt.Pipeline) -> None:
    world = small_world()
    runs_only = Scripted(lambda e: e.path.endswith("/sync_runs"), Response(502, b""), times=None)
    with ScriptedSimulator(world, runs_only) as sim, pytest.raises(Exception) as raised:
        pipeline.run(source_for(sim))
    code, message = classify(raised.value)
    assert code == ExitCode.UNREACHABLE
    assert "kept answering 502" in message
    assert not pipeline.state.get("sources")


def test_missing_envelope_is_a_clear_error(pipeline: dlt.Pipeline) -> None:
    world = small_world()
    path = runs_path(world, 1)
    with ScriptedSimulator(world, Scripted(page_of(path), NO_ENVELOPE, times=None)) as sim:
        pipeline.run(source_for(sim))
    failed, _ = sync_problems(pipeline)
    expected = f"GET {path} page 1 answered JSON without the pagination.next_page envelope"
    assert failed == {str(world.syncs[1]["id"]): expected}


def test_retry_after_is_honoured(pipeline: dlt.Pipeline) -> None:
    world = small_world()
    throttled = Response(429, b'{"status": "error"}', (("Retry-After", "1"),))
    with ScriptedSimulator(world, Scripted(page_of(runs_path(world, 1)), throttled)) as sim:
        pipeline.run(source_for(sim))
        hits = [r.started for r in sim.requests if r.path.endswith(runs_path(world, 1))]
    assert len(hits) == 2
    assert hits[1] - hits[0] >= 0.95  # backoff factor is 0 in tests: only Retry-After waits
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_persistent_server_errors_end_as_unreachable(pipeline: dlt.Pipeline) -> None:
    world = small_world()
    failing = Scripted(lambda e: True, Response(503, b"{}"), times=None)
    with ScriptedSimulator(world, failing) as sim, pytest.raises(Exception) as raised:
        pipeline.run(source_for(sim))
    code, message = classify(raised.value)
    assert code == ExitCode.UNREACHABLE
    assert message == (
        "Census API kept answering 503 on GET /syncs page 1 after 2 attempts: "
        "retry later or raise [runtime] request_max_attempts"
    )


def test_token_never_reaches_debug_logs(
    pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    world = small_world()
    caplog.set_level(logging.DEBUG)
    for name in ("dlt", "urllib3", ""):
        logging.getLogger(name).setLevel(logging.DEBUG)
    started = time.monotonic()
    with ScriptedSimulator(world, Scripted(page_of(runs_path(world, 0), "2"), HTML)) as sim:
        pipeline.run(source_for(sim))
    assert time.monotonic() - started < 60
    assert "Making GET request" in caplog.text  # DEBUG request lines were captured
    assert TOKEN not in caplog.text
    assert TOKEN not in str(pipeline.state)
    assert TOKEN not in str(pipeline.last_trace)
