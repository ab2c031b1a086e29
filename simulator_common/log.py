"""The request log a simulator keeps: the handler appends, tests read copies."""

from __future__ import annotations

import copy
import threading
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["LoggedEntry", "RequestLog"]


class LoggedEntry(Protocol):
    """A log entry: any object with a mutable ``query`` (copied along with the entry)."""

    query: Any


EntryT = TypeVar("EntryT", bound=LoggedEntry)


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
