"""The seeded fault-decision core and the fault kinds every simulator shares.

Whether a request is faulted, and with which kind, depends only on the plan's seed, the
request's identity (method, path, sorted query) and how many times that identity was seen
before, so concurrent clients get the same faults whatever the interleaving. A simulator's
``FaultPlan`` subclasses :class:`SeededFaultPlan`, names its kinds and canned answers, and
builds its world-changing kinds itself.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Final
from urllib.parse import urlencode

from .response import Response

__all__ = [
    "BAD_GATEWAY",
    "CUSTOM",
    "EMPTY",
    "EMPTY_OK",
    "GATEWAY_TIME_OUT",
    "HTML",
    "HTML_TYPE",
    "RESET",
    "SLOW",
    "STATUS_429",
    "STATUS_429_NO_RETRY_AFTER",
    "STATUS_500",
    "STATUS_502",
    "STATUS_503",
    "STATUS_504",
    "TRUNCATED",
    "Fault",
    "SeededFaultPlan",
    "as_fault",
    "request_identity",
]

STATUS_500: Final = "500"
STATUS_502: Final = "502"
STATUS_503: Final = "503"
STATUS_504: Final = "504"
STATUS_429: Final = "429"
"""429 with ``Retry-After``."""
STATUS_429_NO_RETRY_AFTER: Final = "429_no_retry_after"
RESET: Final = "reset"
"""Head and half of the body, then the connection is reset (RST)."""
SLOW: Final = "slow"
"""Sleep ``slow_seconds`` before answering normally."""
TRUNCATED: Final = "truncated"
"""200 with the first half of the real body (Content-Length of the cut body): broken JSON."""
HTML: Final = "html"
"""200 with an HTML error page."""
EMPTY: Final = "empty"
"""200 with an empty body."""
CUSTOM: Final = "custom"
"""Logged kind of a bare :class:`Response` returned by a ``fault_for`` override."""

HTML_TYPE: Final = (("Content-Type", "text/html; charset=utf-8"),)
BAD_GATEWAY: Final = Response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", HTML_TYPE)
"""A proxy's 502 page."""
GATEWAY_TIME_OUT: Final = Response(
    504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>", HTML_TYPE
)
"""A proxy's 504 page."""
EMPTY_OK: Final = Response(200, b"")


@dataclass(frozen=True)
class Fault:
    """How the server answers one request instead of, or on top of, the real answer.

    ``response`` replaces the real answer (None keeps it); ``delay`` is slept first;
    ``truncate`` sends 200 with the first half of the body; ``reset`` sends the head with the
    full Content-Length and half of the body, then resets the connection.
    """

    kind: str
    response: Response | None = None
    delay: float = 0.0
    truncate: bool = False
    reset: bool = False


def as_fault(decision: Fault | Response | None) -> Fault | None:
    """A ``fault_for`` hook's answer as a fault: a bare response is a ``custom`` fault."""
    if isinstance(decision, Response):
        return Fault(CUSTOM, response=decision)
    return decision


def request_identity(
    method: str, path: str, query: Mapping[str, str] | Iterable[tuple[str, str]]
) -> str:
    """The key under which a plan counts repeats: method, path and the sorted query."""
    pairs = query.items() if isinstance(query, Mapping) else query
    return f"{method} {path}?{urlencode(sorted(pairs))}"


class SeededFaultPlan:
    """Decides per request, with probability ``rate`` and reproducibly per ``seed``, a fault.

    The kind is drawn uniformly from ``kinds`` (order does not matter; each must be one of
    the subclass's ``known_kinds``). ``only_paths`` is a regex searched in the request path;
    other requests are neither faulted nor counted. ``max_consecutive`` caps how many times in
    a row one request identity is faulted, so a client with ``max_consecutive + 1`` attempts
    always gets through. A kind that cannot apply (its ``make`` returns None) is no fault:
    the request is answered normally and nothing is counted.
    """

    known_kinds: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Collection[str],
        *,
        only_paths: str | None = None,
        max_consecutive: int | None = None,
        slow_seconds: float = 3.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate}")
        if not kinds:
            raise ValueError("kinds must name at least one fault kind")
        unknown = sorted(set(kinds) - set(self.known_kinds))
        if unknown:
            known = ", ".join(self.known_kinds)
            raise ValueError(f"unknown fault kinds {unknown}; known: {known}")
        if max_consecutive is not None and max_consecutive < 0:
            raise ValueError("max_consecutive must be >= 0")
        if slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")
        self.seed = seed
        self.rate = rate
        wanted = set(kinds)
        self.kinds: tuple[str, ...] = tuple(kind for kind in self.known_kinds if kind in wanted)
        self.only_paths = None if only_paths is None else re.compile(only_paths)
        self.max_consecutive = max_consecutive
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._streaks: dict[str, int] = {}
        self._injected: Counter[str] = Counter()

    @property
    def injected(self) -> Counter[str]:
        """A snapshot of how many faults of each kind were injected so far."""
        with self._lock:
            return Counter(self._injected)

    def draw(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | Iterable[tuple[str, str]],
        make: Callable[[str, random.Random], Fault | None],
    ) -> Fault | None:
        """The fault for this request, or None; ``make(kind, rng)`` builds the drawn kind.

        ``make`` runs under the plan's lock, so world changes happen in decision order.
        """
        if self.only_paths is not None and not self.only_paths.search(path):
            return None
        identity = request_identity(method, path, query)
        with self._lock:
            seen = self._seen.get(identity, 0)
            self._seen[identity] = seen + 1
            rng = self._rng(identity, seen)
            streak = self._streaks.pop(identity, 0)
            if rng.random() >= self.rate:
                return None
            kind = self.kinds[rng.randrange(len(self.kinds))]
            if self.max_consecutive is not None and streak >= self.max_consecutive:
                return None
            fault = make(kind, rng)
            if fault is None:
                return None
            self._streaks[identity] = streak + 1
            self._injected[kind] += 1
            return fault

    def standard_fault(self, kind: str, canned: Mapping[str, Response]) -> Fault | None:
        """The fault of a kind that needs no world: canned, reset, slow or truncated; else None."""
        response = canned.get(kind)
        if response is not None:
            return Fault(kind, response=response)
        if kind == RESET:
            return Fault(kind, reset=True)
        if kind == SLOW:
            return Fault(kind, delay=self.slow_seconds)
        if kind == TRUNCATED:
            return Fault(kind, truncate=True)
        return None

    def _rng(self, identity: str, seen: int) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}\n{identity}\n{seen}".encode(), digest_size=16)
        return random.Random(int.from_bytes(digest.digest(), "big"))
