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
    WORKSPACE_HEADER,
    error_response,
    handle_get,
    region_lockout,
)
from .faults import FaultPlan
from .quirks import Quirks
from .world import World

__all__ = ["API_KEY_HEADER", "DEFAULT_API_KEY", "FilesComSimulator", "RequestLogEntry", "Response"]

API_KEY_HEADER = "X-FilesAPI-Key"
DEFAULT_API_KEY = "1c908683197d1a07eac2fcad9727f61c05b2b4e56984c79470aaaac1e830bd5e"
"""The key accepted unless another is given: letters and digits only, as the SDK requires."""


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
        lockout = simulator.lockout_for(self.headers.get("Host") or "")
        if lockout is not None:
            return lockout
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        workspace = self.headers.get(WORKSPACE_HEADER)
        return handle_get(simulator.world, entry.path, entry.query, workspace, simulator.quirks)


class FilesComSimulator(ServedSimulator, RequestLog[RequestLogEntry]):
    """Serves a :class:`World` over HTTP on loopback like ``https://SITE.files.com/api/rest/v1``.

    ``api_key`` is the one key accepted in ``X-FilesAPI-Key``; keys in ``forbidden_keys`` are
    known but lack permission (403). ``latency`` seconds are slept per request; ``faults``
    (settable; None turns injection off) faults requests through :meth:`fault_for`; ``quirks``
    (settable) makes the listing break promises (see :class:`~files_com_simulator.quirks.Quirks`).

    ``region_host`` locks the site to a region: a request whose ``Host`` names another host
    (``127.0.0.1`` when it is ``localhost``) answers 403 ``lockout-region-mismatch`` naming
    ``region_host:PORT`` (or ``region_names``, when set, to name a host that is locked out too).
    The same server answers for every host name, so ``localhost`` and ``127.0.0.1`` act as
    two hosts of one site; :attr:`region_base_url` is the API root on ``region_host``.
    """

    handler_class = _Handler
    request_queue_size = 64

    def __init__(
        self,
        world: World,
        api_key: str = DEFAULT_API_KEY,
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        *,
        forbidden_keys: Collection[str] = (),
        quirks: Quirks | None = None,
        region_host: str | None = None,
        region_names: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world = world
        self.latency = latency
        self.faults = faults
        self.quirks = quirks
        self.region_host = region_host
        self.region_names = region_names
        self._key = api_key.encode()
        self._forbidden = {key.encode() for key in forbidden_keys}
        ServedSimulator.__init__(self, host, port)
        RequestLog.__init__(self)

    @property
    def base_url(self) -> str:
        """The API root, ``http://127.0.0.1:PORT/api/rest/v1``."""
        return self.root_url + API_PREFIX

    @property
    def region_base_url(self) -> str:
        """The API root on the host the site is locked to, ``http://REGION_HOST:PORT/...``."""
        if self.region_host is None:
            raise RuntimeError("the site is not locked to a region")
        return f"http://{self.region_host}:{self.port}{API_PREFIX}"

    def lockout_for(self, host_header: str) -> Response | None:
        """The region-lockout 403 for a request sent to ``host_header``, or None."""
        if self.region_host is None:
            return None
        if host_header.rpartition(":")[0].lower() == self.region_host.lower():
            return None
        return region_lockout(self.region_names or f"{self.region_host}:{self.port}")

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
