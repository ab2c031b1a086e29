"""Reproducible fault injection: which request gets which fault, by seed and rate.

Whether a request is faulted, and with which kind, depends only on the plan's seed, the request's
identity (method, path, sorted query) and how many times that identity was seen before, so
concurrent clients get the same faults whatever the interleaving. The world-changing kinds act on
the world as it is when the request arrives.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import Counter
from collections.abc import Collection
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
"""429 with ``Retry-After`` (the plan's ``retry_after`` seconds)."""
RESET: Final = "reset"
"""Headers and half of the body, then the connection is reset (a dropped connection)."""
TRUNCATED: Final = "truncated"
"""200 with the first half of the real body: broken JSON."""
HTML: Final = "html"
"""200 with an HTML maintenance page."""
INSERT_RUNS: Final = "insert_runs"
"""1 to 3 new runs in the sync being listed, then the normal answer."""
STEP_RUN: Final = "step_run"
"""One open run of the sync being listed moves one step on (e.g. queued -> querying)."""

ALL_FAULTS: Final[tuple[str, ...]] = (
    STATUS_500,
    STATUS_502,
    STATUS_503,
    STATUS_504,
    STATUS_429,
    RESET,
    TRUNCATED,
    HTML,
    INSERT_RUNS,
    STEP_RUN,
)

_HTML_TYPE: Final = (("Content-Type", "text/html; charset=utf-8"),)
_CANNED: Final[dict[str, Response]] = {
    STATUS_500: error_response(500, "Internal server error"),
    STATUS_502: Response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", _HTML_TYPE),
    STATUS_503: error_response(503, "Service unavailable"),
    STATUS_504: Response(
        504, b"<html><body><h1>504 Gateway Timeout</h1></body></html>", _HTML_TYPE
    ),
    HTML: Response(
        200, b"<!DOCTYPE html><html><body>Down for maintenance</body></html>", _HTML_TYPE
    ),
}
_RUNS_PATH: Final = re.compile(re.escape(API_PREFIX) + r"/syncs/([0-9]+)/runs/?")


@dataclass(frozen=True)
class Fault:
    """How one request is answered instead of, or on top of, the real answer.

    ``response`` replaces the real answer (None keeps it); ``truncate`` sends 200 with half of the
    body; ``reset`` sends half of the body and then resets the connection.
    """

    kind: str
    response: Response | None = None
    truncate: bool = False
    reset: bool = False


class FaultPlan:
    """Faults a request with probability ``rate``, reproducibly per ``seed``.

    ``kinds`` are drawn uniformly. ``only_paths`` (a regex searched in the path) limits which
    requests are considered. ``max_consecutive`` caps how often in a row one request identity is
    faulted, so a client with ``max_consecutive + 1`` attempts always gets through. A
    world-changing kind that cannot apply (e.g. ``insert_runs`` on ``/syncs``) is no fault.
    """

    def __init__(
        self,
        seed: int,
        rate: float,
        kinds: Collection[str] = ALL_FAULTS,
        only_paths: str | None = None,
        max_consecutive: int | None = None,
        retry_after: int = 1,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate}")
        unknown = sorted(set(kinds) - set(ALL_FAULTS))
        if unknown or not kinds:
            raise ValueError(f"kinds must be among {', '.join(ALL_FAULTS)}, not {unknown}")
        self.seed = seed
        self.rate = rate
        self.kinds = tuple(kind for kind in ALL_FAULTS if kind in set(kinds))
        self.only_paths = None if only_paths is None else re.compile(only_paths)
        self.max_consecutive = max_consecutive
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._streaks: dict[str, int] = {}
        self._injected: Counter[str] = Counter()

    @property
    def injected(self) -> Counter[str]:
        """How many faults of each kind were injected so far."""
        with self._lock:
            return Counter(self._injected)

    def decide(self, method: str, path: str, query: dict[str, str], world: World) -> Fault | None:
        """The fault for this request (applying world changes now), or None."""
        if self.only_paths is not None and not self.only_paths.search(path):
            return None
        identity = f"{method} {path}?{urlencode(sorted(query.items()))}"
        with self._lock:  # also serializes world changes in decision order
            seen = self._seen.get(identity, 0)
            self._seen[identity] = seen + 1
            digest = hashlib.blake2b(f"{self.seed}\n{identity}\n{seen}".encode(), digest_size=16)
            rng = random.Random(int.from_bytes(digest.digest(), "big"))
            streak = self._streaks.pop(identity, 0)
            if rng.random() >= self.rate:
                return None
            if self.max_consecutive is not None and streak >= self.max_consecutive:
                return None
            kind = self.kinds[rng.randrange(len(self.kinds))]
            fault = self._make(kind, path, world, rng)
            if fault is None:
                return None
            self._streaks[identity] = streak + 1
            self._injected[kind] += 1
            return fault

    def _make(self, kind: str, path: str, world: World, rng: random.Random) -> Fault | None:
        if kind in _CANNED:
            return Fault(kind, response=_CANNED[kind])
        if kind == STATUS_429:
            headers = (("Retry-After", str(self.retry_after)),)
            return Fault(kind, response=Response(429, b'{"message":"Too many requests"}', headers))
        if kind == RESET:
            return Fault(kind, reset=True)
        if kind == TRUNCATED:
            return Fault(kind, truncate=True)
        match = _RUNS_PATH.fullmatch(path)
        if match is None or world.sync(match.group(1)) is None:
            return None
        sync_id = match.group(1)
        if kind == INSERT_RUNS:
            for _ in range(rng.randint(1, 3)):
                world.add_run(sync_id)
            return Fault(kind)
        open_ids = world.open_run_ids(sync_id)
        if not open_ids:
            return None
        world.step_run(rng.choice(open_ids))
        return Fault(kind)
