"""Client-side rate limit shared by every worker: at most N requests in any window of T seconds.

Hightouch publishes its limit as 200 requests per 10 seconds, so a burst is fine as long as the
window holds: a small load runs at full speed, a large one settles at the limit.
"""

import collections
import threading
import time


class SlidingWindowLimiter:
    """Blocks a request until fewer than `limit` requests started in the last `seconds`.

    `limit=None` means no limit.
    """

    def __init__(self, limit: int | None, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._started: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float | None:
        """The limit as requests per second over the window (None: no limit)."""
        return self.limit / self.seconds if self.limit else None

    def acquire(self) -> None:
        """Wait until this thread may send its next request, and count it."""
        if not self.limit:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                while self._started and self._started[0] <= now - self.seconds:
                    self._started.popleft()
                if len(self._started) < self.limit:
                    self._started.append(now)
                    return
                wait = self._started[0] + self.seconds - now
            time.sleep(wait)
