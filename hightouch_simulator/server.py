"""The HTTP front of the simulator: a threaded standard-library server over a :class:`World`."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hmac
import math
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

from .api import METHOD_NOT_ALLOWED, UNAUTHORIZED, Response, error_response, handle_get
from .faults import Fault, FaultPlan
from .world import World

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


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its simulator and its open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: HightouchSimulator) -> None:
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
        """Cut every open keep-alive connection (on stop)."""
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

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _dispatch(self) -> None:
        sim = self.server.simulator
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
        self._discard_body()
        wait = None if sim.rate_window is None else sim.rate_window.admit(entry.started)
        if wait is not None:
            entry.throttled = True
            headers = (("Retry-After", str(max(1, math.ceil(wait)))),)
            self._answer(entry, Response(429, b'{"message":"Rate limit exceeded"}', headers))
            return
        if sim.latency > 0:
            time.sleep(sim.latency)
        plan = sim.faults
        fault = (
            None if plan is None else plan.decide(entry.method, entry.path, entry.query, sim.world)
        )
        if fault is None:
            self._answer(entry, self._respond_to(entry))
            return
        entry.fault = fault.kind
        self._send_faulted(entry, fault)

    def _send_faulted(self, entry: RequestLogEntry, fault: Fault) -> None:
        response = self._respond_to(entry) if fault.response is None else fault.response
        if fault.truncate:
            response = Response(200, response.body[: len(response.body) // 2])
        if fault.reset:  # the logged status stays 0: no complete answer was sent
            self._send(response, body_limit=len(response.body) // 2)
            self._reset_connection()
            return
        self._answer(entry, response)

    def _respond_to(self, entry: RequestLogEntry) -> Response:
        if not entry.authorized:
            return UNAUTHORIZED
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        try:
            return handle_get(self.server.simulator.world, entry.path, entry.query)
        except Exception:  # a simulator bug shows up as a 500, not a dropped connection
            traceback.print_exc(file=sys.stderr)
            return error_response(500, "simulator error")

    def _answer(self, entry: RequestLogEntry, response: Response) -> None:
        entry.status = response.status
        self._send(response)

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
        time.sleep(0.01)  # the client is mid-body when it is cut off
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class HightouchSimulator:
    """Serves a :class:`World` over HTTP on loopback like the Hightouch REST API.

    ``base_url`` (``http://127.0.0.1:<port>``) is the API root to give the source; paths are
    ``/api/v1/...``. Requests need ``Authorization: Bearer <token>``. ``rate_limit`` is
    ``(requests, seconds)`` of the sliding window (None: unlimited); ``latency`` is slept per
    admitted request; ``faults`` (settable; None turns injection off) injects faults.
    """

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
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log: list[RequestLogEntry] = []
        self._log_lock = threading.Lock()

    def start(self) -> HightouchSimulator:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
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

    def __enter__(self) -> HightouchSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The API root, ``http://host:port`` (the source appends ``/api/v1/...``)."""
        return f"http://{self._host}:{self.port}"

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

    def is_authorized(self, header: str | None) -> bool:
        """Whether an Authorization header carries the expected bearer token."""
        if header is None:
            return False
        return hmac.compare_digest(header.encode("utf-8", "replace"), self._expected_auth)
