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

from .api import METHOD_NOT_ALLOWED, UNAUTHORIZED, Response, handle_get, json_response
from .faults import CUSTOM, Fault, FaultPlan
from .world import World

__all__ = ["CensusSimulator", "RequestLogEntry", "Response"]

_RESET_GRACE_SECONDS = 0.01
"""Pause between the partial body and the reset, so the client is mid-body when cut off."""


@dataclass
class RequestLogEntry:
    """One request as the simulator saw it; never holds the Authorization header or token.

    ``status`` is what was sent: 0 while the request is still being answered and for a
    ``reset``. ``fault`` names the injected fault kind (None when none).
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
        entry = RequestLogEntry(
            method=self.command,
            path=parts.path,
            query=query,
            status=0,
            started=started,
            authorized=simulator.is_authorized(self.headers.get("Authorization")),
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
            self._send_faulted(entry, fault)
            return
        response = self._respond_to(entry)
        entry.status = response.status
        self._send(response)

    def _send_faulted(self, entry: RequestLogEntry, fault: Fault) -> None:
        """Answer with a fault applied: a delay, a replaced or truncated answer, or a reset."""
        if fault.delay > 0:
            time.sleep(fault.delay)
        response = self._respond_to(entry) if fault.response is None else fault.response
        if fault.truncate:
            response = Response(200, response.body[: len(response.body) // 2])
        if fault.reset:  # the logged status stays 0: no complete answer was sent
            self._send(response, body_limit=len(response.body) // 2)
            self._reset_connection()
            return
        entry.status = response.status
        self._send(response)

    def _respond_to(self, entry: RequestLogEntry) -> Response:
        simulator = self.server.simulator
        if not entry.authorized:
            return UNAUTHORIZED
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        try:
            return handle_get(simulator.world, entry.path, entry.query)
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
    """Serves a :class:`World` over HTTP like the Census API (``/api/v1``).

    ``faults`` (also a settable attribute; None turns injection off) injects faults into
    requests through :meth:`fault_for`.
    """

    def __init__(
        self,
        world: World,
        token: str = "sim-token",
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world = world
        self.latency = latency
        self.faults = faults
        self._expected_auth = f"Bearer {token}".encode()
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
        return self.root_url + "/api/v1"

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
        """Whether an Authorization header value carries the expected bearer token."""
        if header is None:
            return False
        return hmac.compare_digest(header.encode("utf-8", "replace"), self._expected_auth)

    def fault_for(self, entry: RequestLogEntry) -> Fault | Response | None:
        """Hook for fault injection, called once per request before it is answered.

        Return None to answer normally, a :class:`Response` to send instead of the real one
        (logged as fault ``"custom"``), or a :class:`Fault`. The default asks :attr:`faults`.
        """
        plan = self.faults
        return None if plan is None else plan.decide(entry, self.world)
