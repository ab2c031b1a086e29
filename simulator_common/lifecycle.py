"""Start, stop and address a simulator's server: the lifecycle every simulator shares."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, ClassVar, Self

from .http import SimulatorHandler, SimulatorServer

__all__ = ["ServedSimulator"]


class ServedSimulator:
    """Serves ``handler_class`` on ``host:port`` (0: the OS chooses) in a background thread.

    Use as a context manager or call :meth:`start` / :meth:`stop`. The handler reaches the
    simulator as ``self.simulator``.
    """

    handler_class: ClassVar[type[SimulatorHandler[Any, Any]]]
    request_queue_size: ClassVar[int] = 128

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._server: SimulatorServer[Any] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind and serve in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        server = SimulatorServer[Any](
            (self._host, self._port), self, self.handler_class, self.request_queue_size
        )
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

    def __enter__(self) -> Self:
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
    def root_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self._host}:{self.port}"
