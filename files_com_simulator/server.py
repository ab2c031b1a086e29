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
from collections.abc import Collection
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .api import (
    API_PREFIX,
    FORBIDDEN,
    METHOD_NOT_ALLOWED,
    MISSING_CREDENTIALS,
    UNAUTHENTICATED,
    Response,
    error_response,
    handle_get,
)
from .faults import CUSTOM, Fault, FaultPlan
from .world import World

API_KEY_HEADER = "X-FilesAPI-Key"


@dataclass
class RequestLogEntry:
    """One request as the simulator saw it. The API key is never stored.

    ``query`` keeps repeated and bracketed names as sent (``filter_gt[created_at]``).
    ``status`` is what was sent: 0 while in flight and for a reset connection. ``fault`` names
    the injected fault kind, if any.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    status: int
    authorized: bool
    started: float
    fault: str | None = None

    def param(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        values = [value for key, value in self.query if key == name]
        return values[-1] if values else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], simulator: FilesComSimulator) -> None:
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
        """No per-request stderr line."""

    def do_GET(self) -> None:
        simulator = self.server.simulator
        parts = urlsplit(self.path)
        entry = RequestLogEntry(
            method=self.command,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            status=0,
            authorized=False,
            started=time.monotonic(),
        )
        key = self.headers.get(API_KEY_HEADER)
        entry.authorized = simulator.accepts(key)
        simulator.record(entry)
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        if simulator.latency > 0:
            time.sleep(simulator.latency)
        fault = simulator.fault_for(entry)
        if isinstance(fault, Response):
            fault = Fault(CUSTOM, response=fault)
        if fault is not None:
            entry.fault = fault.kind
            if fault.delay > 0:
                time.sleep(fault.delay)
        if fault is not None and fault.response is not None:
            response = fault.response
        else:
            response = self._answer(entry, key)
        if fault is not None and fault.truncate:
            response = Response(200, response.body[: len(response.body) // 2], response.headers)
        if fault is not None and fault.reset:  # logged status stays 0: nothing complete was sent
            self._send(response, body_limit=len(response.body) // 2)
            self._reset()
            return
        entry.status = response.status
        self._send(response)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _answer(self, entry: RequestLogEntry, key: str | None) -> Response:
        simulator = self.server.simulator
        if not entry.path.startswith(API_PREFIX + "/"):
            return error_response(404, "Not Found", "not-found/not-found", "Not Found")
        if not key:
            return MISSING_CREDENTIALS
        if simulator.is_forbidden(key):
            return FORBIDDEN
        if not entry.authorized:
            return UNAUTHENTICATED
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        try:
            return handle_get(simulator.world, entry.path, entry.query)
        except Exception:  # a simulator bug shows up as a 500, not a dropped connection
            traceback.print_exc(file=sys.stderr)
            return error_response(500, "Internal Server Error", "processing-failure/bug", "bug")

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

    def _reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) once the client is mid-body."""
        self.close_connection = True
        time.sleep(0.01)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class FilesComSimulator:
    """Serves a :class:`World` over HTTP on loopback like ``https://SITE.files.com/api/rest/v1``.

    ``api_key`` is the one key accepted in ``X-FilesAPI-Key``; keys in ``forbidden_keys`` are
    known but lack permission (403). ``latency`` seconds are slept per request; ``faults``
    (settable; None turns injection off) faults requests through :meth:`fault_for`.
    """

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
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log: list[RequestLogEntry] = []
        self._log_lock = threading.Lock()

    def start(self) -> FilesComSimulator:
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

    def __enter__(self) -> FilesComSimulator:
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
        """The API root, ``http://127.0.0.1:PORT/api/rest/v1``."""
        return f"http://{self._host}:{self.port}{API_PREFIX}"

    @property
    def requests(self) -> list[RequestLogEntry]:
        """Copies of the logged requests in arrival order."""
        with self._log_lock:
            return [dataclasses.replace(entry, query=list(entry.query)) for entry in self._log]

    def reset_log(self) -> None:
        """Forget all logged requests."""
        with self._log_lock:
            self._log = []

    def record(self, entry: RequestLogEntry) -> None:
        """Append an entry to the request log."""
        with self._log_lock:
            self._log.append(entry)

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
