"""The request log a simulator keeps: the handler appends on arrival, tests read copies."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["LoggedRequest", "RequestLog"]

QueryT = TypeVar("QueryT")


@dataclass
class LoggedRequest(Generic[QueryT]):
    """One request as a simulator saw it; never holds a credential.

    ``status`` is what was sent: 0 while the request is still being answered and for a reset
    connection. ``authorized`` is whether the credential may use this path. ``fault`` names the
    injected fault kind (None when none).
    """

    method: str
    path: str
    query: QueryT
    status: int
    started: float
    authorized: bool
    fault: str | None = None


EntryT = TypeVar("EntryT", bound=LoggedRequest[Any])


class RequestLog(Generic[EntryT]):
    """Thread-safe, append-only list of request entries; :attr:`requests` hands out copies."""

    def __init__(self) -> None:
        self._log: list[EntryT] = []
        self._log_lock = threading.Lock()

    @property
    def requests(self) -> list[EntryT]:
        """Copies of the logged requests in arrival order."""
        with self._log_lock:
            return [_copied(entry) for entry in self._log]

    def reset_log(self) -> None:
        """Forget all logged requests."""
        with self._log_lock:
            self._log = []

    def record(self, entry: EntryT) -> None:
        """Append an entry to the request log (called by the handler on arrival)."""
        with self._log_lock:
            self._log.append(entry)


def _copied(entry: EntryT) -> EntryT:
    clone = copy.copy(entry)
    clone.query = copy.copy(entry.query)
    return clone
