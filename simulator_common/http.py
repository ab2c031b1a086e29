"""The HTTP plumbing every simulator shares: a response value, the server and a handler base.

Every simulator answers a request the same way: log it on arrival, discard its body, maybe
refuse it (a rate limit), sleep the latency, ask for a fault, then send the real answer with the
fault applied (a delay, a replaced or cut answer, a reset). :class:`SimulatorHandler` does that;
a simulator's handler subclass supplies what differs (auth, routes, error bodies, faults).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

from .faults import Fault
from .log import LoggedRequest
from .response import Response, json_response

__all__ = [
    "Response",
    "SimulatorHandler",
    "SimulatorHost",
    "SimulatorServer",
    "guarded",
    "json_response",
]

RESET_GRACE_SECONDS = 0.01
"""Pause between the partial body and the reset, so the client is mid-body when cut off."""


def guarded(answer: Callable[[], Response], fallback: Response) -> Response:
    """``answer()``, or ``fallback`` (with the traceback on stderr) if it raises."""
    try:
        return answer()
    except Exception:  # a simulator bug must show up as a 500, not a dropped connection
        traceback.print_exc(file=sys.stderr)
        return fallback


class SimulatorHost(Protocol):
    """What the handler base needs of its simulator."""

    latency: float
    """Seconds slept per admitted request."""

    def record(self, entry: Any) -> None:
        """Log a request on arrival."""


SimT = TypeVar("SimT", bound=SimulatorHost)
EntryT = TypeVar("EntryT", bound=LoggedRequest[Any])


class SimulatorServer(ThreadingHTTPServer, Generic[SimT]):
    """ThreadingHTTPServer that knows its simulator and its open connections."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        simulator: SimT,
        handler: type[SimulatorHandler[SimT, Any]],
        request_queue_size: int = 128,
    ) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.request_queue_size = request_queue_size  # read by listen() in the base __init__
        super().__init__(address, handler)

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


class SimulatorHandler(BaseHTTPRequestHandler, Generic[SimT, EntryT]):
    """Handler base: every method goes to :meth:`dispatch`, one flow for every simulator.

    A simulator's handler names its ``entry_class`` and the answer to a bug in ``respond``
    (``bug_response``), and fills in the hooks: :meth:`authorized` and :meth:`respond`, and
    where needed :meth:`query_of`, :meth:`refuse` and :meth:`fault_for`.
    ``truncate_keeps_headers``: whether a ``truncated`` fault keeps the real answer's headers
    (Files.com's cursor headers) or sends none.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    truncate_keeps_headers: ClassVar[bool] = False
    bug_response: ClassVar[Response]
    entry_class: type[EntryT]
    server: SimulatorServer[SimT]

    @property
    def simulator(self) -> SimT:
        """The simulator this server belongs to."""
        return self.server.simulator

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line."""

    def do_GET(self) -> None:
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def dispatch(self) -> None:
        """Log the request on arrival, then answer it: refused, or for real with any fault."""
        simulator = self.simulator
        started = time.monotonic()
        parts = urlsplit(self.path)
        entry = self.entry_class(
            method=self.command,
            path=parts.path,
            query=self.query_of(parse_qsl(parts.query, keep_blank_values=True)),
            status=0,
            started=started,
            authorized=self.authorized(parts.path),
        )
        simulator.record(entry)
        self.discard_body()
        refusal = self.refuse(entry)
        if refusal is not None:
            self.answer(entry, refusal)
            return
        latency = simulator.latency
        if latency > 0:
            time.sleep(latency)
        fault = self.fault_for(entry)  # the single place where faults are injected
        self.answer_faulted(
            entry, fault, lambda: guarded(lambda: self.respond(entry), self.bug_response)
        )

    # ------------------------------------------------------------------ hooks
    def query_of(self, pairs: list[tuple[str, str]]) -> Any:
        """The query as the log entry keeps it (default: a dict, the last value of a name)."""
        return dict(pairs)

    def authorized(self, path: str) -> bool:
        """Whether the request's credential may use ``path``."""
        raise NotImplementedError

    def refuse(self, entry: EntryT) -> Response | None:
        """An answer that turns the request away before latency and faults (a 429), or None."""
        return None

    def fault_for(self, entry: EntryT) -> Fault | None:
        """The fault to apply to this request, or None (default: never)."""
        return None

    def respond(self, entry: EntryT) -> Response:
        """The real answer; if it raises, ``bug_response`` is sent instead."""
        raise NotImplementedError

    # ------------------------------------------------------------------ sending
    def discard_body(self) -> None:
        """Read and drop the request body, so the connection can carry the next request."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > 0:
            self.rfile.read(length)

    def answer(self, entry: EntryT, response: Response) -> None:
        """Send ``response`` and log its status."""
        entry.status = response.status
        self.send(response)

    def answer_faulted(
        self, entry: EntryT, fault: Fault | None, respond: Callable[[], Response]
    ) -> None:
        """Send ``respond()``, with ``fault`` applied: a delay, a replaced or cut answer, a reset.

        ``respond`` is called only when the fault keeps the real answer.
        """
        if fault is None:
            self.answer(entry, respond())
            return
        entry.fault = fault.kind
        if fault.delay > 0:
            time.sleep(fault.delay)
        response = respond() if fault.response is None else fault.response
        if fault.truncate:
            headers = response.headers if self.truncate_keeps_headers else ()
            response = Response(200, response.body[: len(response.body) // 2], headers)
        if fault.reset:  # the logged status stays 0: no complete answer was sent
            self.send(response, body_limit=len(response.body) // 2)
            self.reset_connection()
            return
        self.answer(entry, response)

    def send(self, response: Response, body_limit: int | None = None) -> None:
        """Send ``response`` (JSON unless it names a Content-Type); ``body_limit`` cuts the body."""
        self.send_response(response.status)
        if not any(name.lower() == "content-type" for name, _ in response.headers):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body[:body_limit])

    def reset_connection(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0) instead of a clean close."""
        self.close_connection = True
        time.sleep(RESET_GRACE_SECONDS)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
