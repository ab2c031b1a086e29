"""The HTTP front of the simulator: a threaded standard-library server over a :class:`World`."""

from __future__ import annotations

import hmac
from collections.abc import Collection

from simulator_common.faults import Fault, as_fault
from simulator_common.http import Response, SimulatorHandler
from simulator_common.lifecycle import ServedSimulator
from simulator_common.log import LoggedRequest, RequestLog

from .api import (
    API_PREFIX,
    FORBIDDEN,
    METHOD_NOT_ALLOWED,
    MISSING_CREDENTIALS,
    NOT_FOUND,
    UNAUTHENTICATED,
    error_response,
    handle_get,
)
from .faults import FaultPlan
from .world import World

__all__ = ["API_KEY_HEADER", "FilesComSimulator", "RequestLogEntry", "Response"]

API_KEY_HEADER = "X-FilesAPI-Key"


class RequestLogEntry(LoggedRequest[list[tuple[str, str]]]):
    """One request as the simulator saw it. The API key is never stored.

    ``query`` keeps repeated and bracketed names as sent (``filter_gt[created_at]``).
    ``status`` is what was sent: 0 while in flight and for a reset connection. ``fault`` names
    the injected fault kind, if any.
    """

    def param(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        values = [value for key, value in self.query if key == name]
        return values[-1] if values else None


class _Handler(SimulatorHandler["FilesComSimulator", RequestLogEntry]):
    entry_class = RequestLogEntry
    bug_response = error_response(500, "Internal Server Error", "processing-failure/bug", "bug")
    truncate_keeps_headers = True  # a cut page still carries its cursor headers

    def query_of(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return pairs

    def authorized(self, path: str) -> bool:
        return self.simulator.accepts(self.headers.get(API_KEY_HEADER))

    def fault_for(self, entry: RequestLogEntry) -> Fault | None:
        return as_fault(self.simulator.fault_for(entry))

    def respond(self, entry: RequestLogEntry) -> Response:
        simulator = self.simulator
        key = self.headers.get(API_KEY_HEADER)
        if not entry.path.startswith(API_PREFIX + "/"):
            return NOT_FOUND
        if not key:
            return MISSING_CREDENTIALS
        if simulator.is_forbidden(key):
            return FORBIDDEN
        if not entry.authorized:
            return UNAUTHENTICATED
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        return handle_get(simulator.world, entry.path, entry.query)


class FilesComSimulator(ServedSimulator, RequestLog[RequestLogEntry]):
    """Serves a :class:`World` over HTTP on loopback like ``https://SITE.files.com/api/rest/v1``.

    ``api_key`` is the one key accepted in ``X-FilesAPI-Key``; keys in ``forbidden_keys`` are
    known but lack permission (403). ``latency`` seconds are slept per request; ``faults``
    (settable; None turns injection off) faults requests through :meth:`fault_for`.
    """

    handler_class = _Handler
    request_queue_size = 64

    def __init__(
        self,
        world: World,
        api_key: str = "sim-files-key",
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        *,
        forbidden_keys: Collection[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world = world
        self.latency = latency
        self.faults = faults
        self._key = api_key.encode()
        self._forbidden = {key.encode() for key in forbidden_keys}
        ServedSimulator.__init__(self, host, port)
        RequestLog.__init__(self)

    @property
    def base_url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT/api/rest/v1``."""
        return self.root_url + API_PREFIX

    def accepts(self, key: str | None) -> bool:
        """Whether ``key`` is the accepted API key (compared in constant time)."""
        return key is not None and hmac.compare_digest(key.encode("utf-8", "replace"), self._key)

    def is_forbidden(self, key: str) -> bool:
        """Whether ``key`` is a known key without permission to list sync runs."""
        return key.encode("utf-8", "replace") in self._forbidden

    def fault_for(self, entry: RequestLogEntry) -> Fault | Response | None:
        """Hook called once per request: None answers normally, else a fault or a response."""
        plan = self.faults
        if plan is None:
            return None
        return plan.decide(entry.method, entry.path, entry.query, self.world)
