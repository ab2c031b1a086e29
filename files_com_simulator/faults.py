"""Deterministic fault injection: which request gets which fault, by seed and rate.

Whether a request is faulted, and how, depends only on the plan's seed, the request's identity
(method, path, sorted query) and how often that identity was seen before, so a retried request
gets its own draw and a rerun with the same seed meets the same faults.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from .api import API_PREFIX, Response, error_response
from .world import World

STATUS_500: Final = "500"
STATUS_502: Final = "502"
STATUS_503: Final = "503"
STATUS_504: Final = "504"
STATUS_429: Final = "429"
"""429 with ``Retry-After: 1``."""
STATUS_429_NO_RETRY_AFTER: Final = "429_no_retry_after"
RESET: Final = "reset"
"""The head and half of the body, then the connection is reset (a dropped connection)."""
TRUNCATED: Final = "truncated"
"""200 with the first half of the real body: broken JSON."""
HTML: Final = "html"
"""200 with an HTML maintenance page."""
EMPTY: Final = "empty"
"""200 with an empty body."""
SLOW: Final = "slow"
"""Sleep ``slow_seconds`` before answering normally."""
INSERT_RUN: Final = "insert_run"
"""A new run is created (the clock moves 1 ms), then the request is answered normally."""
FINISH_RUN: Final = "finish_run"
"""One open run finishes (the clock moves 1 ms), then the request is answered normally."""
CUSTOM: Final = "custom"
"""Logged kind of a bare :class:`Response` returned by a ``fault_for`` override."""

ALL_FAULTS: Final[tuple[str, ...]] = (
    STATUS_500,
    STATUS_502,
    STATUS_503,
    STATUS_504,
    STATUS_429,
    STATUS_429_NO_RETRY_AFTER,
    RESET,
    TRUNCATED,
    HTML,
    EMPTY,
    SLOW,
    INSERT_RUN,
    FINISH_RUN,
)

_HTML: Final = (("Content-Type", "text/html; charset=utf-8"),)
_CANNED: Final[dict[str, Response]] = {
    STATUS_500: error_response(
        500, "Internal Server Error", "processing-failure/internal-error", "Internal error"
    ),
    STATUS_502: Response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", _HTML),
    STATUS_503: error_response(
        503, "Service Unavailable", "service-unavailable/maintenance", "Try again later"
    ),
    STATUS_504: Response(504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>", _HTML),
    STATUS_429: error_response(
        429,
        "Too Many Requests",
        "too-many-requests/rate-limited",
        "Rate limit exceeded",
        (("Retry-After", "1"),),
    ),
    STATUS_429_NO_RETRY_AFTER: error_response(
        429, "Too Many Requests", "too-many-requests/rate-limited", "Rate limit exceeded"
    ),
    HTML: Response(
        200, b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>", _HTML
    ),
    EMPTY: Response(200, b""),
}


@dataclass(frozen=True)
class Fault:
    """How one request is answered instead of, or on top of, the real answer.

    ``response`` replaces the real answer (None keeps it); ``delay`` is slept first;
    ``truncate`` sends 200 with half of the body; ``reset`` cuts the connection mid-body.
    """

    kind: str
    response: Response | None = None
    delay: float = 0.0
    truncate: bool = False
    reset: bool = False


def request_identity(method: str, path: str, query: Sequence[tuple[str, str]]) -> str:
    """The key under which repeats of one request are counted."""
    return f"{method} {path}?{urlencode(sorted(query))}"


class FaultPlan:
    """Faults a share ``rate`` of requests, reproducibly per ``seed``.

    The kind is drawn uniformly from ``kinds``. ``max_consecutive`` caps how often in a row one
    request identity is faulted, so a client with ``max_consecutive + 1`` attempts always gets
    through. ``insert_run`` and ``finish_run`` act on the world as it is when they are drawn;
    where they cannot apply (no open run) the request is answered normally and not counted.
    """

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Collection[str] = ALL_FAULTS,
        max_consecutive: int | None = None,
        slow_seconds: float = 3.0,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate}")
        unknown = sorted(set(kinds) - set(ALL_FAULTS))
        if unknown or not kinds:
            raise ValueError(f"unknown or no fault kinds {unknown}; known: {', '.join(ALL_FAULTS)}")
        if max_consecutive is not None and max_consecutive < 0:
            raise ValueError("max_consecutive must be >= 0")
        self.seed = seed
        self.rate = rate
        self.kinds = tuple(kind for kind in ALL_FAULTS if kind in set(kinds))
        self.max_consecutive = max_consecutive
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._streaks: dict[str, int] = {}
        self._injected: Counter[str] = Counter()

    @property
    def injected(self) -> Counter[str]:
        """How many faults of each kind were injected so far."""
        with self._lock:
            return Counter(self._injected)

    def decide(
        self, method: str, path: str, query: Sequence[tuple[str, str]], world: World
    ) -> Fault | None:
        """The fault for this request (applying world changes now), or None."""
        identity = request_identity(method, path, query)
        with self._lock:  # also orders world changes by decision
            seen = self._seen.get(identity, 0)
            self._seen[identity] = seen + 1
            digest = hashlib.blake2b(f"{self.seed}\n{identity}\n{seen}".encode(), digest_size=16)
            rng = random.Random(int.from_bytes(digest.digest(), "big"))
            streak = self._streaks.pop(identity, 0)
            if rng.random() >= self.rate:
                return None
            kind = self.kinds[rng.randrange(len(self.kinds))]
            if self.max_consecutive is not None and streak >= self.max_consecutive:
                return None
            fault = self._make(kind, path, world, rng)
            if fault is None:
                return None
            self._streaks[identity] = streak + 1
            self._injected[kind] += 1
            return fault

    def _make(self, kind: str, path: str, world: World, rng: random.Random) -> Fault | None:
        canned = _CANNED.get(kind)
        if canned is not None:
            return Fault(kind, response=canned)
        if kind == RESET:
            return Fault(kind, reset=True)
        if kind == TRUNCATED:
            return Fault(kind, truncate=True)
        if kind == SLOW:
            return Fault(kind, delay=self.slow_seconds)
        if not path.startswith(API_PREFIX + "/sync_runs"):
            return None
        if kind == INSERT_RUN:
            sync_ids = world.sync_ids
            if not sync_ids:
                return None
            world.insert_run(rng.choice(sync_ids))
            return Fault(kind)
        open_ids = world.open_run_ids()
        if not open_ids:
            return None
        world.finish_run(rng.choice(open_ids))
        return Fault(kind)
