"""A server-side rate limit for the simulators: a sliding window over arrival times."""

from __future__ import annotations

import collections
import math
import threading
from typing import Protocol

from simulator_common.response import Response

__all__ = ["RateWindow", "Throttled", "refusal", "retry_after_header"]


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


def retry_after_header(wait: float) -> tuple[str, str]:
    """The ``Retry-After`` header for a refusal that lifts in ``wait`` seconds (whole, >= 1)."""
    return ("Retry-After", str(max(1, math.ceil(wait))))


class Throttled(Protocol):
    """A request log entry that can be marked as refused by the rate limit."""

    started: float
    throttled: bool


def refusal(window: RateWindow | None, entry: Throttled, body: bytes) -> Response | None:
    """The 429 (with Retry-After and `body`) for a request over `window`, else None."""
    wait = None if window is None else window.admit(entry.started)
    if wait is None:
        return None
    entry.throttled = True
    return Response(429, body, (retry_after_header(wait),))
