"""The HTTP front of the simulator: a threaded standard-library server over a :class:`World`."""

from __future__ import annotations

import collections
import hmac
import math
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from simulator_common.http import Response, SimulatorHandler, guarded
from simulator_common.lifecycle import ServedSimulator
from simulator_common.log import RequestLog

from .api import METHOD_NOT_ALLOWED, UNAUTHORIZED, error_response, handle_get
from .faults import FaultPlan
from .world import World

__all__ = ["DEFAULT_RATE_LIMIT", "HightouchSimulator", "RateWindow", "RequestLogEntry", "Response"]

DEFAULT_RATE_LIMIT = (200, 10.0)
"""Hightouch's published limit: 200 requests per 10 seconds."""


@dataclass
class RequestLogEntry:
    """One request as the simulator saw it; never holds the Authorization header or token.

    ``status`` is what was sent (0 while being answered, and for a reset connection);
    ``fault`` names an injected fault kind; ``throttled`` marks a 429 of the rate limit.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    started: float
    authorized: bool
    fault: str | None = None
    throttled: bool = False


class RateWindow:
    """Admits at most ``limit`` requests in any sliding window of ``seconds`` (by arrival time).

    Assumption: requests answered 429 do not count against the limit.
    """

    def __init__(self, limit: int, seconds: float) -> None:
        if limit < 1 or seconds <= 0:
            raise ValueError("a rate limit needs limit >= 1 and seconds > 0")
        self.limit = limit
        self.seconds = seconds
        self._admitted: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def admit(self, now: float) -> float | None:
        """None if the request may proceed, else the seconds until it would be admitted."""
        with self._lock:
            while self._admitted and self._admitted[0] <= now - self.seconds:
                self._admitted.popleft()
            if len(self._admitted) < self.limit:
                self._admitted.append(now)
                return None
            return self._admitted[0] + self.seconds - now


_SIMULATOR_ERROR = error_response(500, "simulator error")


class _Handler(SimulatorHandler["HightouchSimulator"]):
    def dispatch(self) -> None:
        sim = self.simulator
        parts = urlsplit(self.path)
        entry = RequestLogEntry(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            status=0,
            started=time.monotonic(),
            authorized=sim.is_authorized(self.headers.get("Authorization")),
        )
        sim.record(entry)
        self.discard_body()
        wait = None if sim.rate_window is None else sim.rate_window.admit(entry.started)
        if wait is not None:
            entry.throttled = True
            headers = (("Retry-After", str(max(1, math.ceil(wait)))),)
            self.answer(entry, Response(429, b'{"message":"Rate limit exceeded"}', headers))
            return
        if sim.latency > 0:
            time.sleep(sim.latency)
        plan = sim.faults
        fault = (
            None if plan is None else plan.decide(entry.method, entry.path, entry.query, sim.world)
        )
        self.answer_faulted(entry, fault, lambda: self._respond_to(entry))

    def _respond_to(self, entry: RequestLogEntry) -> Response:
        if not entry.authorized:
            return UNAUTHORIZED
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        world = self.simulator.world
        return guarded(lambda: handle_get(world, entry.path, entry.query), _SIMULATOR_ERROR)


class HightouchSimulator(ServedSimulator, RequestLog[RequestLogEntry]):
    """Serves a :class:`World` over HTTP on loopback like the Hightouch REST API.

    ``base_url`` (``http://127.0.0.1:<port>``) is the API root to give the source; paths are
    ``/api/v1/...``. Requests need ``Authorization: Bearer <token>``. ``rate_limit`` is
    ``(requests, seconds)`` of the sliding window (None: unlimited); ``latency`` is slept per
    admitted request; ``faults`` (settable; None turns injection off) injects faults.
    """

    handler_class = _Handler

    def __init__(
        self,
        world: World,
        token: str = "sim-token",
        *,
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world = world
        self.latency = latency
        self.faults = faults
        self.rate_window = None if rate_limit is None else RateWindow(*rate_limit)
        self._expected_auth = f"Bearer {token}".encode()
        ServedSimulator.__init__(self, host, port)
        RequestLog.__init__(self)

    @property
    def base_url(self) -> str:
        """The API root, ``http://host:port`` (the source appends ``/api/v1/...``)."""
        return self.root_url

    def is_authorized(self, header: str | None) -> bool:
        """Whether an Authorization header carries the expected bearer token."""
        if header is None:
            return False
        return hmac.compare_digest(header.encode("utf-8", "replace"), self._expected_auth)
