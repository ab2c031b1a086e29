"""Reproducible fault injection: which request gets which fault, by seed and rate.

Whether a request is faulted, and with which kind, depends only on the plan's seed, the request's
identity (method, path, sorted query) and how many times that identity was seen before, so
concurrent clients get the same faults whatever the interleaving (see
:mod:`simulator_common.faults`). The world-changing kinds act on the world as it is when the
request arrives.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection
from typing import Final

from simulator_common.faults import (
    BAD_GATEWAY,
    HTML,
    HTML_TYPE,
    RESET,
    STATUS_429,
    STATUS_500,
    STATUS_502,
    STATUS_503,
    STATUS_504,
    TRUNCATED,
    Fault,
    SeededFaultPlan,
)
from simulator_common.http import Response

from .api import API_PREFIX, error_response
from .world import World

__all__ = [
    "ALL_FAULTS",
    "HTML",
    "INSERT_RUNS",
    "RESET",
    "STATUS_429",
    "STATUS_500",
    "STATUS_502",
    "STATUS_503",
    "STATUS_504",
    "STEP_RUN",
    "TRUNCATED",
    "Fault",
    "FaultPlan",
]

INSERT_RUNS: Final = "insert_runs"
"""1 to 3 new runs in the sync being listed, then the normal answer."""
STEP_RUN: Final = "step_run"
"""One open run of the sync being listed moves one step on (e.g. queued -> querying)."""

ALL_FAULTS: Final[tuple[str, ...]] = (
    STATUS_500,
    STATUS_502,
    STATUS_503,
    STATUS_504,
    STATUS_429,
    RESET,
    TRUNCATED,
    HTML,
    INSERT_RUNS,
    STEP_RUN,
)

_CANNED: Final[dict[str, Response]] = {
    STATUS_500: error_response(500, "Internal server error"),
    STATUS_502: BAD_GATEWAY,
    STATUS_503: error_response(503, "Service unavailable"),
    STATUS_504: Response(504, b"<html><body><h1>504 Gateway Timeout</h1></body></html>", HTML_TYPE),
    HTML: Response(
        200, b"<!DOCTYPE html><html><body>Down for maintenance</body></html>", HTML_TYPE
    ),
}
_TOO_MANY: Final = b'{"message":"Too many requests"}'
_RUNS_PATH: Final = re.compile(re.escape(API_PREFIX) + r"/syncs/([0-9]+)/runs/?")


class FaultPlan(SeededFaultPlan):
    """Faults a request with probability ``rate``, reproducibly per ``seed``.

    ``kinds`` are drawn uniformly. ``only_paths`` (a regex searched in the path) limits which
    requests are considered. ``max_consecutive`` caps how often in a row one request identity is
    faulted, so a client with ``max_consecutive + 1`` attempts always gets through. A
    world-changing kind that cannot apply (e.g. ``insert_runs`` on ``/syncs``) is no fault.
    ``retry_after`` is the seconds a ``429`` asks the client to wait.
    """

    known_kinds = ALL_FAULTS

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Collection[str] = ALL_FAULTS,
        only_paths: str | None = None,
        max_consecutive: int | None = None,
        retry_after: int = 1,
    ) -> None:
        super().__init__(seed, rate, kinds, only_paths=only_paths, max_consecutive=max_consecutive)
        self.retry_after = retry_after

    def decide(self, method: str, path: str, query: dict[str, str], world: World) -> Fault | None:
        """The fault for this request (applying world changes now), or None."""

        def make(kind: str, rng: random.Random) -> Fault | None:
            if kind == STATUS_429:
                headers = (("Retry-After", str(self.retry_after)),)
                return Fault(kind, response=Response(429, _TOO_MANY, headers))
            fault = self.standard_fault(kind, _CANNED)
            if fault is not None:
                return fault
            return _change_world(kind, path, world, rng)

        return self.draw(method, path, query, make)


def _change_world(kind: str, path: str, world: World, rng: random.Random) -> Fault | None:
    match = _RUNS_PATH.fullmatch(path)
    if match is None or world.sync(match.group(1)) is None:
        return None
    sync_id = match.group(1)
    if kind == INSERT_RUNS:
        for _ in range(rng.randint(1, 3)):
            world.add_run(sync_id)
        return Fault(kind)
    open_ids = world.open_run_ids(sync_id)
    if not open_ids:
        return None
    world.step_run(rng.choice(open_ids))
    return Fault(kind)
