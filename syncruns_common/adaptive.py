"""Adaptive concurrency per host: AIMD on requests in flight and on the request rate.

Grows the requests in flight while answers come back as fast as before and nothing is
throttled; on a 429 or 503 every worker pauses for the answer's Retry-After, the concurrency
halves and the rate is capped just under what the server admitted. The configured ceilings
(`concurrency`, `rate_limit`) are never exceeded: the inner limiter still spaces every attempt.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dlt.common.configuration.specs import RuntimeConfiguration

from syncruns_common.http_session import Limiter

THROTTLE_STATUSES = frozenset({429, 503})

_RATE_MARGIN = 0.95  # the learned rate sits this far under what the server admitted
_MIN_SPAN_S = 1.0  # the shortest span a throttled rate is measured over
_MAX_SPAN_S = 10.0  # ... and the longest
_HOLD_S = 30.0  # after a cut, the learned rate holds this long before it is probed upwards
_PROBE_EVERY_S = 5.0
_PROBE_STEP = 1.05
_MIN_RATE = 0.2  # requests per second: never slower than one request in five seconds
_MIN_ADMITTED = 10  # answers needed in the span before a throttle to measure a rate from
_LATENCY_SLACK_S = 0.05  # latency "holds" while within 2x its best + this (loopback jitter)
_LATENCY_WEIGHT = 0.2  # exponential moving average of answer times


@dataclass(frozen=True)
class AdaptiveStats:
    """What the controller did during a load (for metrics and benchmarks)."""

    throttled: int  # answers 429/503
    cuts: int  # times the concurrency and rate were cut
    concurrency: float  # requests in flight allowed now
    peak_concurrency: float
    rate: float | None  # learned requests per second now (None: not throttled, or recovered)


class AdaptiveLimiter:
    """A per-host gate in front of `inner` (the configured rate ceiling), shared by all workers.

    `acquire()` before each attempt (retries included), `answered()` after it, always.
    `rate_ceiling` is the inner limiter's rate (None: none), where a learned rate ends.
    Starts at one request in flight and doubles per round trip until the first throttle or
    until answers slow down (slow start), then grows by one per round trip; never above
    `ceiling`.
    """

    def __init__(
        self,
        inner: Limiter,
        ceiling: int,
        rate_ceiling: float | None = None,
        max_pause_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.ceiling = max(1, int(ceiling))
        self.rate_ceiling = rate_ceiling
        self.max_pause_s = max_pause_s
        self._clock = clock
        self._cond = threading.Condition()
        self._limit = 1.0
        self._peak = 1.0
        self._slow_start = True
        self._in_flight = 0
        self._paused_until = 0.0
        self._rate: float | None = None
        self._next_send = 0.0
        self._cut_cooldown_until = 0.0
        self._pending_cut: tuple[float, float] | None = None
        self._resolve_at = 0.0
        self._measured_from = 0.0
        self._probe_at = 0.0
        self._best_latency: float | None = None
        self._latency: float | None = None
        self._admitted: collections.deque[float] = collections.deque()
        self._throttled = 0
        self._cuts = 0

    def acquire(self) -> None:
        """Block until this worker may send: not paused, a slot in flight, the learned rate."""
        with self._cond:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    self._cond.wait(self._paused_until - now)
                elif self._pending_cut is not None and now >= self._resolve_at:
                    self._resolve_cut()
                elif self._in_flight >= int(self._limit):
                    self._cond.wait(0.5)
                else:
                    break
            self._in_flight += 1
            if not self._measured_from:
                self._measured_from = now  # the first send: the first measure starts here
        while True:
            with self._cond:
                delay = self._rate_slot(self._clock())
            if delay > 0:
                time.sleep(delay)
            self.inner.acquire()
            with self._cond:
                now = self._clock()
                if now >= self._paused_until:
                    return
                # a 429 came back while this worker waited: wait it out, then take a new slot
                while (now := self._clock()) < self._paused_until:
                    self._cond.wait(self._paused_until - now)

    def _rate_slot(self, now: float) -> float:
        """Reserve the next send time under the learned rate; the seconds to wait for it."""
        if not self._rate:
            return 0.0
        start = max(now, self._next_send)
        self._next_send = start + 1.0 / self._rate
        return start - now

    def answered(self, status: int, retry_after_s: float | None, seconds: float) -> None:
        """Count one attempt's outcome: `status` 0 when no answer came (a reset, a timeout)."""
        with self._cond:
            self._in_flight -= 1
            now = self._clock()
            if status in THROTTLE_STATUSES:
                self._on_throttle(now, retry_after_s)
            elif status:
                self._on_answer(now, seconds)
            self._cond.notify_all()

    def stats(self) -> AdaptiveStats:
        """The controller's counters and current settings."""
        with self._cond:
            return AdaptiveStats(self._throttled, self._cuts, self._limit, self._peak, self._rate)

    def _on_throttle(self, now: float, retry_after_s: float | None) -> None:
        self._throttled += 1
        wait = min(self.max_pause_s, retry_after_s if retry_after_s is not None else 0.0)
        self._paused_until = max(self._paused_until, now + wait)
        self._slow_start = False
        if now < self._cut_cooldown_until:
            return  # the requests sent before the last cut are still coming back
        self._cuts += 1
        self._limit = max(1.0, self._limit / 2)
        round_trip = self._latency or 0.0
        # the new rate is set once the requests now in flight have answered (admitted or not)
        self._pending_cut = (now, wait)
        self._resolve_at = now + max(wait, 2 * round_trip)
        self._cut_cooldown_until = self._resolve_at + round_trip
        self._probe_at = now + wait + _HOLD_S

    def _resolve_cut(self) -> None:
        """Cap the rate just under what the server admitted before the pending cut."""
        assert self._pending_cut is not None
        at, wait = self._pending_cut
        self._pending_cut = None
        measured = self._admitted_rate(at, wait)
        self._measured_from = at + wait  # the next measure starts when this pause ended
        if measured is None:
            return  # too few answers to tell a rate: the halved concurrency and pause only
        base = measured if self._rate is None else min(self._rate, measured)
        self._rate = max(_MIN_RATE, base * _RATE_MARGIN)

    def _admitted_rate(self, at: float, wait: float) -> float | None:
        """Requests per second the server admitted, by send time, in the span before `at`
        (None when fewer than _MIN_ADMITTED were, e.g. a 503 on the first request).

        A Retry-After over twice the span says the server counts over a longer window, so the
        pause belongs to the span (e.g. 200 admitted in 2 s, then "wait 8 s": 20/s).
        """
        since = self._measured_from or at
        span = min(_MAX_SPAN_S, max(_MIN_SPAN_S, at - since))
        admitted = sum(1 for sent in self._admitted if at - span <= sent <= at)
        if admitted < _MIN_ADMITTED:
            return None
        return admitted / (span + wait if wait > 2 * span else span)

    def _on_answer(self, now: float, seconds: float) -> None:
        self._admitted.append(now - seconds)
        while self._admitted and self._admitted[0] < now - 2 * _MAX_SPAN_S:
            self._admitted.popleft()
        self._latency = (
            seconds
            if self._latency is None
            else (1 - _LATENCY_WEIGHT) * self._latency + _LATENCY_WEIGHT * seconds
        )
        if self._best_latency is None or self._latency < self._best_latency:
            self._best_latency = self._latency
        if self._latency > 2 * self._best_latency + _LATENCY_SLACK_S:
            self._slow_start = False
            self._limit = max(1.0, self._limit - 1.0 / self._limit)
        elif self._limit < self.ceiling:
            step = 1.0 if self._slow_start else 1.0 / self._limit
            self._limit = min(float(self.ceiling), self._limit + step)
            self._peak = max(self._peak, self._limit)
        if self._rate is not None and now >= self._probe_at:
            self._rate *= _PROBE_STEP
            self._probe_at = now + _PROBE_EVERY_S
            if self.rate_ceiling and self._rate >= self.rate_ceiling:
                self._rate = None  # recovered: the configured ceiling alone spaces requests


def adaptive_limiter(
    inner: Limiter, ceiling: int | None, rate_ceiling: float | None, runtime: RuntimeConfiguration
) -> Limiter:
    """`inner` behind an AdaptiveLimiter of up to `ceiling` requests at once (None: `inner`
    alone, a fixed concurrency); pauses are capped by `[runtime] request_max_retry_delay`."""
    if ceiling is None:
        return inner
    return AdaptiveLimiter(
        inner, ceiling, rate_ceiling or None, max_pause_s=float(runtime.request_max_retry_delay)
    )
