"""Deterministic fault injection: which request gets which fault, by seed and rate.

Whether a request is faulted, and how, depends only on the plan's seed, the request's identity
(method, path, sorted query) and how often that identity was seen before, so a retried request
gets its own draw and a rerun with the same seed meets the same faults (see
:mod:`simulator_common.faults`).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from typing import Final

from simulator_common.faults import (
    BAD_GATEWAY,
    CUSTOM,
    EMPTY,
    EMPTY_OK,
    GATEWAY_TIME_OUT,
    HTML,
    HTML_TYPE,
    RESET,
    SLOW,
    STATUS_429,
    STATUS_429_NO_RETRY_AFTER,
    STATUS_500,
    STATUS_502,
    STATUS_503,
    STATUS_504,
    TRUNCATED,
    Fault,
    SeededFaultPlan,
    request_identity,
)
from simulator_common.http import Response

from .api import API_PREFIX, error_response
from .world import World

__all__ = [
    "ALL_FAULTS",
    "CUSTOM",
    "EMPTY",
    "FINISH_RUN",
    "HTML",
    "INSERT_RUN",
    "RESET",
    "SLOW",
    "STATUS_429",
    "STATUS_429_NO_RETRY_AFTER",
    "STATUS_500",
    "STATUS_502",
    "STATUS_503",
    "STATUS_504",
    "TRUNCATED",
    "Fault",
    "FaultPlan",
    "request_identity",
]

INSERT_RUN: Final = "insert_run"
"""A new run is created (the clock moves 1 ms), then the request is answered normally."""
FINISH_RUN: Final = "finish_run"
"""One open run finishes (the clock moves 1 ms), then the request is answered normally."""

ALL_FAULTS: Final[tuple[str, ...]] = (
    STATUS_500,
    STATUS_502,
    STATUS_503,
    STATUS_504,
    STATUS_429,
    STATUS_429_NO_RETRY_AFTER,
    RESET,
    TRUNCATED,
    HTML,
    EMPTY,
    SLOW,
    INSERT_RUN,
    FINISH_RUN,
)

_CANNED: Final[dict[str, Response]] = {
    STATUS_500: error_response(
        500, "Internal Server Error", "processing-failure/internal-error", "Internal error"
    ),
    STATUS_502: BAD_GATEWAY,
    STATUS_503: error_response(
        503, "Service Unavailable", "service-unavailable/maintenance", "Try again later"
    ),
    STATUS_504: GATEWAY_TIME_OUT,
    STATUS_429: error_response(
        429,
        "Too Many Requests",
        "too-many-requests/rate-limited",
        "Rate limit exceeded",
        (("Retry-After", "1"),),
    ),
    STATUS_429_NO_RETRY_AFTER: error_response(
        429, "Too Many Requests", "too-many-requests/rate-limited", "Rate limit exceeded"
    ),
    HTML: Response(
        200, b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>", HTML_TYPE
    ),
    EMPTY: EMPTY_OK,
}


class FaultPlan(SeededFaultPlan):
    """Faults a share ``rate`` of requests, reproducibly per ``seed``.

    The kind is drawn uniformly from ``kinds``. ``max_consecutive`` caps how often in a row one
    request identity is faulted, so a client with ``max_consecutive + 1`` attempts always gets
    through. ``insert_run`` and ``finish_run`` act on the world as it is when they are drawn;
    where they cannot apply (no open run) the request is answered normally and not counted.
    """

    known_kinds = ALL_FAULTS

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Collection[str] = ALL_FAULTS,
        max_consecutive: int | None = None,
        slow_seconds: float = 3.0,
    ) -> None:
        super().__init__(
            seed, rate, kinds, max_consecutive=max_consecutive, slow_seconds=slow_seconds
        )

    def decide(
        self, method: str, path: str, query: Sequence[tuple[str, str]], world: World
    ) -> Fault | None:
        """The fault for this request (applying world changes now), or None."""

        def make(kind: str, rng: random.Random) -> Fault | None:
            fault = self.standard_fault(kind, _CANNED)
            if fault is not None:
                return fault
            return _change_world(kind, path, world, rng)

        return self.draw(method, path, query, make)


def _change_world(kind: str, path: str, world: World, rng: random.Random) -> Fault | None:
    if not path.startswith(API_PREFIX + "/sync_runs"):
        return None
    if kind == INSERT_RUN:
        sync_ids = world.sync_ids
        if not sync_ids:
            return None
        world.insert_run(rng.choice(sync_ids))
        return Fault(kind)
    open_ids = world.open_run_ids()
    if not open_ids:
        return None
    world.finish_run(rng.choice(open_ids))
    return Fault(kind)
