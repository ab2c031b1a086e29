"""The HTTP front of the simulator: a threaded standard-library server over a :class:`World`."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from simulator_common.faults import Fault
from simulator_common.http import Response, SimulatorHandler
from simulator_common.lifecycle import ServedSimulator
from simulator_common.log import LoggedRequest, RequestLog
from simulator_common.rate_window import RateWindow, refusal

from .api import METHOD_NOT_ALLOWED, UNAUTHORIZED, error_response, handle_get, handle_post
from .faults import FaultPlan
from .quirks import ApiQuirks
from .world import World

__all__ = ["DEFAULT_RATE_LIMIT", "HightouchSimulator", "RateWindow", "RequestLogEntry", "Response"]

DEFAULT_RATE_LIMIT = (200, 10.0)
"""Hightouch's published limit: 200 requests per 10 seconds."""


@dataclass
class RequestLogEntry(LoggedRequest[dict[str, str]]):
    """One request as the simulator saw it; never holds the Authorization header or token.

    ``status`` is what was sent (0 while being answered, and for a reset connection);
    ``fault`` names an injected fault kind; ``throttled`` marks a 429 of the rate limit.
    """

    throttled: bool = False


class _Handler(SimulatorHandler["HightouchSimulator", RequestLogEntry]):
    entry_class = RequestLogEntry
    bug_response = error_response(500, "simulator error")
    body = b""

    def authorized(self, path: str) -> bool:
        return self.simulator.is_authorized(self.headers.get("Authorization"))

    def refuse(self, entry: RequestLogEntry) -> Response | None:
        return refusal(self.simulator.rate_window, entry, b'{"message":"Rate limit exceeded"}')

    def fault_for(self, entry: RequestLogEntry) -> Fault | None:
        sim = self.simulator
        plan = sim.faults
        return (
            None if plan is None else plan.decide(entry.method, entry.path, entry.query, sim.world)
        )

    def discard_body(self) -> None:
        """Keep the body (a trigger's ``syncId``), never logged."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        self.body = self.rfile.read(length) if length > 0 else b""

    def respond(self, entry: RequestLogEntry) -> Response:
        if not entry.authorized:
            return UNAUTHORIZED
        sim = self.simulator
        if entry.method == "POST":
            return handle_post(sim.world, entry.path, self.body)
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        return handle_get(sim.world, entry.path, entry.query, sim.quirks)


class HightouchSimulator(ServedSimulator, RequestLog[RequestLogEntry]):
    """Serves a :class:`World` over HTTP on loopback like the Hightouch REST API.

    ``base_url`` (``http://127.0.0.1:<port>``) is the API root to give the source; paths are
    ``/api/v1/...``. Requests need ``Authorization: Bearer <token>``. ``rate_limit`` is
    ``(requests, seconds)`` of the sliding window (None: unlimited); ``latency`` is slept per
    admitted request; ``faults`` (settable; None turns injection off) injects faults;
    ``quirks`` (settable) makes it answer like an older or misbehaving API (see
    :class:`ApiQuirks`; the default is the documented API, run ids as strings).
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
        quirks: ApiQuirks | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world = world
        self.latency = latency
        self.faults = faults
        self.quirks = quirks or ApiQuirks()
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
