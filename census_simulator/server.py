"""The HTTP front of the simulator: a threaded standard-library server over a :class:`World`."""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .api import (
    API_PREFIX,
    API_V2_PREFIX,
    METHOD_NOT_ALLOWED,
    UNAUTHORIZED,
    V1_NEEDS_WORKSPACE_TOKEN,
    V2_NEEDS_PERSONAL_TOKEN,
    Response,
    api_version,
    handle_get,
    json_response,
)
from .faults import CUSTOM, Fault, FaultPlan
from .records import DEFAULT_RECORDS_RETENTION_DAYS
from .v2 import DEFAULT_V2_ID_STYLE, check_id_style
from .world import World

__all__ = ["CensusSimulator", "RequestLogEntry", "Response"]

_RESET_GRACE_SECONDS = 0.01
"""Pause between the partial body and the reset, so the client is mid-body when cut off."""


@dataclass
class RequestLogEntry:
    """One request as the simulator saw it; never holds the Authorization header or token.

    ``status`` is what was sent: 0 while the request is still being answered and for a
    ``reset``. ``authorized`` is whether the token may use this path (v1: the workspace
    token, v2: the personal access token). ``fault`` names the injected fault kind (None when
    none).
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    started: float
    authorized: bool
    fault: str | None = None


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its simulator and its open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: CensusSimulator) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Cut every open keep-alive connection (used on stop)."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        simulator = self.server.simulator
        started = time.monotonic()
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        denial = simulator.authorize(parts.path, self.headers.get("Authorization"))
        entry = RequestLogEntry(
            method=self.command,
            path=parts.path,
            query=query,
            status=0,
            started=started,
            authorized=denial is None,
        )
        simulator.record(entry)
        self._discard_body()
        latency = simulator.latency
        if latency > 0:
            time.sleep(latency)
        fault = simulator.fault_for(entry)  # the single place where faults are injected
        if isinstance(fault, Response):
            fault = Fault(CUSTOM, response=fault)
        if fault is not None:
            entry.fault = fault.kind
            self._send_faulted(entry, fault, denial)
            return
        response = self._respond_to(entry, denial)
        entry.status = response.status
        self._send(response)

    def _send_faulted(self, entry: RequestLogEntry, fault: Fault, denial: Response | None) -> None:
        """Answer with a fault applied: a delay, a replaced or truncated answer, or a reset."""
        if fault.delay > 0:
            time.sleep(fault.delay)
        response = self._respond_to(entry, denial) if fault.response is None else fault.response
        if fault.truncate:
            response = Response(200, response.body[: len(response.body) // 2])
        if fault.reset:  # the logged status stays 0: no complete answer was sent
            self._send(response, body_limit=len(response.body) // 2)
            self._reset_connection()
            return
        entry.status = response.status
        self._send(response)

    def _respond_to(self, entry: RequestLogEntry, denial: Response | None) -> Response:
        simulator = self.server.simulator
        if denial is not None:
            return denial
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        try:
            return handle_get(
                simulator.world,
                entry.path,
                entry.query,
                v2_id_style=simulator.v2_id_style,
                records_retention_days=simulator.records_retention_days,
            )
        except Exception:  # a simulator bug must show up as a 500, not a dropped connection
            traceback.print_exc(file=sys.stderr)
            return json_response(500, {"status": "error", "message": "simulator error"})

    def _discard_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(length)

    def _send(self, response: Response, body_limit: int | None = None) -> None:
        self.send_response(response.status)
        if not any(name.lower() == "content-type" for name, _ in response.headers):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body[:body_limit])

    def _reset_connection(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0) instead of a clean close."""
        self.close_connection = True
        time.sleep(_RESET_GRACE_SECONDS)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class CensusSimulator:
    """Serves a :class:`World` over HTTP like the Census API (``/api/v1`` and ``/api/v2``).

    ``/api/v1`` takes ``Bearer {token}`` (a workspace API token) and sees the syncs of
    ``world.groups[0]`` only; ``/api/v2`` takes ``Bearer {personal_access_token}`` and sees
    every group, with ids rendered in ``v2_id_style`` (see :mod:`census_simulator.v2`). The
    records of runs finished more than ``records_retention_days`` ago answer 410.
    ``faults`` (also a settable attribute; None turns injection off) injects faults into
    requests of both versions through :meth:`fault_for`.
    """

    def __init__(
        self,
        world: World,
        token: str = "sim-token",
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        *,
        personal_access_token: str = "sim-pat",
        v2_id_style: str = DEFAULT_V2_ID_STYLE,
        records_retention_days: float = DEFAULT_RECORDS_RETENTION_DAYS,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if records_retention_days < 0:
            raise ValueError(f"records_retention_days must be >= 0, not {records_retention_days}")
        self.world = world
        self.latency = latency
        self.faults = faults
        self.v2_id_style = v2_id_style
        self.records_retention_days = records_retention_days
        self._expected_auth = f"Bearer {token}".encode()
        self._expected_pat_auth = f"Bearer {personal_access_token}".encode()
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log: list[RequestLogEntry] = []
        self._log_lock = threading.Lock()

    # ----------------------------------------------------------- lifecycle
    def start(self) -> CensusSimulator:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        server = _Server((self._host, self._port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and release the port."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> CensusSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- urls
    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, ``http://host:port/api/v1``."""
        return self.root_url + API_PREFIX

    @property
    def base_url_v2(self) -> str:
        """The API v2 base URL, ``http://host:port/api/v2``."""
        return self.root_url + API_V2_PREFIX

    # ------------------------------------------------------------- options
    @property
    def v2_id_style(self) -> str:
        """How v2 renders and accepts ids: ``string``, ``integer`` or ``opaque``."""
        return self._v2_id_style

    @v2_id_style.setter
    def v2_id_style(self, style: str) -> None:
        self._v2_id_style = check_id_style(style)

    def records_expired(self, run_id: int) -> bool:
        """Whether the records endpoint answers 410 for this run now (KeyError if unknown)."""
        return self.world.records_expired(run_id, self.records_retention_days)

    # ----------------------------------------------------------------- log
    @property
    def requests(self) -> list[RequestLogEntry]:
        """Copies of the logged requests in arrival order."""
        with self._log_lock:
            return [dataclasses.replace(entry, query=dict(entry.query)) for entry in self._log]

    def reset_log(self) -> None:
        """Forget all logged requests."""
        with self._log_lock:
            self._log = []

    def record(self, entry: RequestLogEntry) -> None:
        """Append an entry to the request log (called by the handler on arrival)."""
        with self._log_lock:
            self._log.append(entry)

    # --------------------------------------------------------- decisions
    def is_authorized(self, header: str | None) -> bool:
        """Whether an Authorization header value carries the workspace (v1) bearer token."""
        if header is None:
            return False
        return hmac.compare_digest(header.encode("utf-8", "replace"), self._expected_auth)

    def authorize(self, path: str, header: str | None) -> Response | None:
        """None if the Authorization header may use ``path``, else the 401 to answer.

        Paths under ``/api/v2`` need the personal access token; any other path the workspace
        token. The other kind of token gets a message naming the right one (on ``/api/v1`` and
        ``/api/v2``); anything else the plain 401.
        """
        given = (header or "").encode("utf-8", "replace")
        is_token = header is not None and hmac.compare_digest(given, self._expected_auth)
        is_pat = header is not None and hmac.compare_digest(given, self._expected_pat_auth)
        version = api_version(path)
        if version == 2:
            if is_pat:
                return None
            return V2_NEEDS_PERSONAL_TOKEN if is_token else UNAUTHORIZED
        if is_token:
            return None
        return V1_NEEDS_WORKSPACE_TOKEN if is_pat and version == 1 else UNAUTHORIZED

    def fault_for(self, entry: RequestLogEntry) -> Fault | Response | None:
        """Hook for fault injection, called once per request before it is answered.

        Return None to answer normally, a :class:`Response` to send instead of the real one
        (logged as fault ``"custom"``), or a :class:`Fault`. The default asks :attr:`faults`.
        """
        plan = self.faults
        return None if plan is None else plan.decide(entry, self.world, self.v2_id_style)
