"""Adaptive concurrency (issue 17): AIMD per host against servers that throttle.

The controller is driven first with a hand-set clock (exact arithmetic), then end to end:
census_source and hightouch_source against simulators whose server-side limit the client was
not told about. The tables must be exact, the 429s few, and every worker must honour a 429's
Retry-After, not only the one that got it.
"""

from __future__ import annotations

import time

import dlt
import pytest

from census_simulator import CensusSimulator, RequestLogEntry, World
from census_source.ratelimit import RateLimiter
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld
from syncruns_common.adaptive import AdaptiveLimiter
from syncruns_common.http_session import retry_after_seconds
from tests.conftest import TOKEN, PipelineFactory, source_for
from tests.hightouch.conftest import TOKEN as HIGHTOUCH_TOKEN
from tests.hightouch.conftest import source_for as hightouch_source_for
from tests.hightouch.truth import assert_matches_truth as assert_hightouch_truth
from tests.truth import assert_matches_truth


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(limiter: AdaptiveLimiter, clock: Clock, status: int, seconds: float = 0.1) -> None:
    """One attempt: acquired now, answered `seconds` later."""
    limiter.acquire()
    clock.now += seconds
    limiter.answered(status, None, seconds)


def test_slow_start_doubles_per_round_trip_up_to_the_ceiling() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(RateLimiter(None), ceiling=6, clock=clock)
    seen = []
    for _ in range(8):
        answer(limiter, clock, 200)
        seen.append(limiter.stats().concurrency)
    assert seen == [2.0, 3.0, 4.0, 5.0, 6.0, 6.0, 6.0, 6.0]  # +1 per answer, never above 6


def test_slower_answers_stop_the_growth_and_shrink_it() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(RateLimiter(None), ceiling=64, clock=clock)
    for _ in range(10):
        answer(limiter, clock, 200, seconds=0.1)
    grown = limiter.stats().concurrency
    assert grown == 11.0
    for _ in range(10):
        answer(limiter, clock, 200, seconds=1.0)  # the server slows down under the load
    assert limiter.stats().concurrency < grown
    assert limiter.stats().throttled == 0


def test_a_429_pauses_halves_and_caps_the_rate_under_what_was_admitted() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(RateLimiter(None), ceiling=8, clock=clock)
    for _ in range(40):  # 40 answers sent over 2 s: 20 per second admitted
        limiter.acquire()
        limiter.answered(200, None, 0.0)
        clock.now += 0.05
    assert limiter.stats().concurrency == 8.0
    for _ in range(4):  # four requests in flight
        limiter.acquire()
    limiter.answered(429, 2.0, 0.0)  # "wait 2 s"
    assert limiter.stats().concurrency == 4.0
    for _ in range(3):  # the other three come back 429 too: one cut only
        limiter.answered(429, 2.0, 0.0)
    stats = limiter.stats()
    assert (stats.throttled, stats.cuts, stats.concurrency) == (4, 1, 4.0)
    clock.now += 2.0  # the pause is over: the next send sets the rate
    limiter.acquire()
    rate = limiter.stats().rate
    assert rate == pytest.approx(20 * 0.95)


def test_a_long_retry_after_counts_the_pause_into_the_rate() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(RateLimiter(None), ceiling=8, clock=clock)
    for _ in range(100):  # 100 admitted in 1 s, then "wait 9 s": a 10 s window of 100
        limiter.acquire()
        limiter.answered(200, None, 0.0)
        clock.now += 0.01
    limiter.acquire()
    limiter.answered(429, 9.0, 0.0)
    clock.now += 9.0
    limiter.acquire()
    assert limiter.stats().rate == pytest.approx(100 / 10.0 * 0.95)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 12 ", 12.0), (None, None), ("", None), ("soon", None), ("-1", None)],
)
def test_retry_after_is_read_in_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert retry_after_seconds(later) == pytest.approx(30, abs=1.5)


def _pauses_kept(requests: list[RequestLogEntry], retry_after: float) -> None:
    """No request reached the server while a 429's Retry-After was running (its own retry and
    the other workers' requests alike), allowing for requests already on their way."""
    throttled = [entry.started for entry in requests if entry.throttled]
    for refused_at in throttled:
        inside = [
            entry.started
            for entry in requests
            if refused_at + 0.05 < entry.started < refused_at + retry_after - 0.05
        ]
        assert not inside, f"{len(inside)} requests sent during a Retry-After pause"


def test_census_learns_a_server_limit_it_was_not_told(
    make_pipeline: PipelineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "10")  # the fixed side must finish too
    world = World(seed=5, sync_run_counts=(300,) * 30)  # 1 + 30 x 3 = 91 requests
    with CensusSimulator(world, token=TOKEN, latency=0.02, rate_limit=(20, 1.0)) as sim:
        adaptive = make_pipeline("adaptive")
        adaptive.run(source_for(sim, concurrency=8, rate_limit=100))
        learned = sim.requests
        sim.reset_log()
        fixed = make_pipeline("fixed")
        fixed.run(source_for(sim, concurrency=8, rate_limit=100, adaptive_concurrency=False))
        stormed = sim.requests
    assert_matches_truth(adaptive, world.ground_truth_runs())
    assert_matches_truth(fixed, world.ground_truth_runs())
    assert sum(not entry.throttled for entry in learned) == 91
    throttled = sum(entry.throttled for entry in learned)
    # one episode: the requests in flight when the first 429 came back; fixed: a storm
    assert 1 <= throttled <= 8
    assert sum(entry.throttled for entry in stormed) > 3 * throttled
    _pauses_kept(learned, retry_after=1.0)


def test_hightouch_learns_a_throttled_workspace(
    make_pipeline: PipelineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "5")  # dlt's default
    # the workspace admits 15 per 3 s while the source is set to Hightouch's published 200/10 s
    world = HightouchWorld(seed=5, sync_run_counts=(250,) * 12)  # 1 + 12 x 3 = 37 requests
    with HightouchSimulator(
        world, token=HIGHTOUCH_TOKEN, latency=0.02, rate_limit=(15, 3.0)
    ) as sim:
        pipeline = make_pipeline("hightouch_adaptive", "hightouch")
        pipeline.run(hightouch_source_for(sim, concurrency=8))
        requests = sim.requests
    assert_hightouch_truth(pipeline, world.ground_truth_runs())
    assert sum(not entry.throttled for entry in requests) == 37
    # the first burst fills the window; after the pause the rate is the window's, 5 per second
    assert sum(entry.throttled for entry in requests) <= 8


def test_fixed_concurrency_is_still_one_setting_away(
    simulator: CensusSimulator, pipeline: dlt.Pipeline
) -> None:
    pipeline.run(source_for(simulator, concurrency=3, adaptive_concurrency=False))
    assert_matches_truth(pipeline, simulator.world.ground_truth_runs())


def test_a_throttle_before_any_answer_sets_no_rate() -> None:
    # a 503 on the very first request says nothing about a rate: no cap at a rate of zero
    clock = Clock()
    limiter = AdaptiveLimiter(RateLimiter(None), ceiling=8, clock=clock)
    limiter.acquire()
    limiter.answered(503, None, 0.0)
    clock.now += 1.0
    limiter.acquire()
    stats = limiter.stats()
    assert (stats.cuts, stats.rate, stats.concurrency) == (1, None, 1.0)
