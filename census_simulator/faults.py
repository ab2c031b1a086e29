"""Deterministic fault injection: which request gets which fault, by seed and rate.

A :class:`FaultPlan` is consulted once per request. Whether the request is faulted, and with
which kind, depends only on the plan's seed, the request's identity (method, path and the
sorted query string) and how many times that identity was seen before. Concurrent clients
therefore get the same fault sequence per request, whatever the interleaving. World-mutating
kinds act on the world as it is at that moment: which run they touch, and whether they apply at
all, follow the order in which requests arrive. They understand both API versions and the v2 id
style, and touch only what the request's version may see (v1: the syncs of ``groups[0]``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from typing import Any, Final

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
from simulator_common.http import Response, json_response
from simulator_common.timefmt import format_us, parse_us, to_us

from .api import (
    RECORDS,
    SYNC,
    SYNC_RUN,
    SYNC_RUNS,
    Route,
    parse_route,
    route_run_id,
    route_sync_id,
)
from .generator import CURRENT_STEPS, TERMINAL_STATUSES
from .request_log import RequestLogEntry
from .v2 import DEFAULT_V2_ID_STYLE
from .world import World

__all__ = [
    "ALL_FAULTS",
    "CHANGE_STATUS",
    "CUSTOM",
    "DELETE_SYNC",
    "DESTRUCTIVE_FAULTS",
    "EMPTY",
    "HTML",
    "INSERT_RUNS",
    "KNOWN_FAULTS",
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

INSERT_RUNS: Final = "insert_runs"
"""1 to 3 new runs in the sync whose runs are listed, then the normal answer."""
CHANGE_STATUS: Final = "change_status"
"""One open run of the requested sync (or the requested run, also for its records) changes
status, then the answer."""
DELETE_SYNC: Final = "delete_sync"
"""The requested sync (``/syncs/{id}`` or its runs) is deleted, then the normal (404) answer."""

ALL_FAULTS: Final[tuple[str, ...]] = (
    STATUS_500,
    STATUS_502,
    STATUS_503,
    STATUS_504,
    STATUS_429,
    STATUS_429_NO_RETRY_AFTER,
    RESET,
    SLOW,
    TRUNCATED,
    HTML,
    EMPTY,
    INSERT_RUNS,
    CHANGE_STATUS,
)
"""Every non-destructive kind, the default of :class:`FaultPlan`."""

DESTRUCTIVE_FAULTS: Final[tuple[str, ...]] = (DELETE_SYNC,)
"""Kinds that remove data from the API; opt in by naming them in ``kinds``."""

KNOWN_FAULTS: Final[tuple[str, ...]] = ALL_FAULTS + DESTRUCTIVE_FAULTS

_CANNED: Final[dict[str, Response]] = {
    STATUS_500: json_response(500, {"status": "error", "message": "Internal Server Error"}),
    STATUS_502: BAD_GATEWAY,
    STATUS_503: json_response(503, {"status": "error", "message": "Service Unavailable"}),
    STATUS_504: GATEWAY_TIME_OUT,
    STATUS_429: Response(
        429,
        b'{"status":"error","message":"Too Many Requests"}',
        (("Retry-After", "1"),),
    ),
    STATUS_429_NO_RETRY_AFTER: json_response(
        429, {"status": "error", "message": "Too Many Requests"}
    ),
    HTML: Response(
        200,
        b"<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>"
        b"<body><h1>We'll be back soon</h1></body></html>",
        HTML_TYPE,
    ),
    EMPTY: EMPTY_OK,
}

_ERROR: Final = ("CONNECTION_RESET", "The destination closed the connection.", None)
_CANCELED: Final = ("SYNC_CANCELED", "The sync run was canceled by a user.", None)


class FaultPlan(SeededFaultPlan):
    """Injects a fault into a request with probability ``rate``, reproducibly per ``seed``.

    The kind is drawn uniformly from ``kinds`` (order does not matter). ``only_paths`` is a
    regex searched in the request path (with the ``/api/v1`` or ``/api/v2`` prefix); other
    requests are neither faulted nor counted. ``max_consecutive`` caps how many times in a row
    one request identity is faulted, so a client with ``max_consecutive + 1`` attempts always
    gets through. A world-mutating kind that cannot apply (e.g. ``insert_runs`` on ``/syncs``) is
    no fault at all: the request is answered normally and nothing is counted.
    """

    known_kinds = KNOWN_FAULTS

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Collection[str] = ALL_FAULTS,
        only_paths: str | None = None,
        max_consecutive: int | None = None,
        slow_seconds: float = 3.0,
    ) -> None:
        super().__init__(
            seed,
            rate,
            kinds,
            only_paths=only_paths,
            max_consecutive=max_consecutive,
            slow_seconds=slow_seconds,
        )

    def decide(
        self, entry: RequestLogEntry, world: World, v2_id_style: str = DEFAULT_V2_ID_STYLE
    ) -> Fault | None:
        """The fault for this request (applying world mutations now), or None.

        ``v2_id_style`` is how the server reads ids in ``/api/v2`` paths.
        """

        def make(kind: str, rng: random.Random) -> Fault | None:
            fault = self.standard_fault(kind, _CANNED)
            if fault is not None:
                return fault
            route = parse_route(entry.path, v2_id_style)
            if route is None:
                return None
            return Fault(kind) if _MUTATIONS[kind](route, world, rng) else None

        return self.draw(entry.method, entry.path, entry.query, make)


def _insert_runs(route: Route, world: World, rng: random.Random) -> bool:
    """Add 1 to 3 runs (the newest possibly open) to the sync whose runs are listed."""
    sync_id = route_sync_id(world, route) if route.kind == SYNC_RUNS else None
    if sync_id is None:
        return False
    count = rng.randint(1, 3)
    try:
        for index in range(count):
            if index == count - 1 and rng.random() < 0.25:
                world.add_run(sync_id, status="working")
            else:
                world.add_run(sync_id)
    except KeyError:  # not a live sync
        return False
    return True


def _change_status(route: Route, world: World, rng: random.Random) -> bool:
    """Move one open run on: queued -> working, cancelling -> failed, else completed/failed.

    Finished runs never change (they are terminal in the simulator's model), so a sync
    without open runs is left alone.
    """
    run: dict[str, Any] | None = None
    if route.kind in (SYNC, SYNC_RUNS):
        sync_id = route_sync_id(world, route)
        runs = [] if sync_id is None else world.runs_of(sync_id)
        open_runs = [r for r in runs if not _terminal(r.get("status"))]
        run = rng.choice(open_runs) if open_runs else None
    elif route.kind in (SYNC_RUN, RECORDS):
        run_id = route_run_id(world, route)
        run = None if run_id is None else world.run(run_id)
        if run is not None and _terminal(run.get("status")):
            run = None
    if run is None:
        return False
    stamp_us = max(to_us(world.now), *(_us(run.get(key)) for key in ("created_at", "updated_at")))
    stamp = format_us(stamp_us)
    status = run.get("status")
    fields: dict[str, Any] = {"updated_at": stamp}
    if status == "queued":
        fields.update(status="working", current_step=rng.choice(CURRENT_STEPS))
    else:
        canceled = status == "cancelling" or bool(run.get("canceled"))
        failed = canceled or rng.random() < 0.25
        error = _CANCELED if canceled else _ERROR if failed else (None, None, None)
        fields.update(
            status="failed" if failed else "completed",
            completed_at=stamp,
            current_step=None,
            canceled=canceled,
            error_code=error[0],
            error_message=error[1],
            error_detail=error[2],
        )
    try:
        world.update_run(run["id"], **fields)
    except KeyError:  # its sync was deleted meanwhile
        return False
    return True


def _delete(route: Route, world: World, rng: random.Random) -> bool:
    """Delete the live sync named in a ``/syncs/{id}`` or ``/syncs/{id}/sync_runs`` path."""
    sync_id = route_sync_id(world, route) if route.kind in (SYNC, SYNC_RUNS) else None
    if sync_id is None:
        return False
    try:
        world.delete_sync(sync_id)
    except KeyError:
        return False
    return True


def _terminal(status: Any) -> bool:
    return isinstance(status, str) and status in TERMINAL_STATUSES


def _us(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return parse_us(value)
    except ValueError:  # an odd value stored in the run
        return 0


_MUTATIONS: Final[dict[str, Callable[[Route, World, random.Random], bool]]] = {
    INSERT_RUNS: _insert_runs,
    CHANGE_STATUS: _change_status,
    DELETE_SYNC: _delete,
}
