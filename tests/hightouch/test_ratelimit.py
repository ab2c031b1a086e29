"""Hightouch's rate limit (200 requests per 10 s, scaled down here): kept, or recovered from."""

import time

import dlt
import pytest

from hightouch_simulator import HightouchSimulator, RequestLogEntry, World
from tests.hightouch.conftest import TOKEN, source_for
from tests.hightouch.truth import assert_matches_truth

LIMIT, WINDOW = 10, 1.0  # the server's limit in these tests: 10 requests per second


def busiest_window(requests: list[RequestLogEntry], seconds: float) -> int:
    """The most admitted requests the server saw start within any `seconds`."""
    starts = sorted(r.started for r in requests if not r.throttled)
    return max(
        (
            sum(1 for later in starts[i:] if later - start < seconds)
            for i, start in enumerate(starts)
        ),
        default=0,
    )


def test_the_client_keeps_under_the_limit(pipeline: dlt.Pipeline) -> None:
    world = World(seed=5, sync_run_counts=(250,) * 8)  # 1 + 8 x 3 = 25 requests
    with HightouchSimulator(world, token=TOKEN, rate_limit=(LIMIT, WINDOW)) as sim:
        began = time.monotonic()
        pipeline.run(
            source_for(sim, rate_limit=LIMIT, rate_limit_window_seconds=WINDOW, concurrency=8)
        )
        elapsed = time.monotonic() - began
        requests = sim.requests
    assert len(requests) == 25
    assert not any(r.throttled for r in requests)  # not one 429
    assert busiest_window(requests, WINDOW) <= LIMIT
    assert elapsed >= 2 * WINDOW  # 25 requests at 10 per second: the limiter really waited
    assert_matches_truth(pipeline, world.ground_truth_runs())


def test_without_the_client_limit_429s_are_retried_after_retry_after(
    pipeline: dlt.Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "8")
    world = World(seed=5, sync_run_counts=(250,) * 8)
    with HightouchSimulator(world, token=TOKEN, rate_limit=(LIMIT, WINDOW)) as sim:
        pipeline.run(source_for(sim, rate_limit=0, concurrency=8))
        requests = sim.requests
    assert any(r.throttled and r.status == 429 for r in requests)  # the server did push back
    assert sum(not r.throttled for r in requests) == 25  # every page answered once in the end
    assert_matches_truth(pipeline, world.ground_truth_runs())
