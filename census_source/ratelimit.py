"""A client-side request rate ceiling shared by every worker thread."""

import threading
import time


class RateLimiter:
    """Spaces requests at least 1/rate seconds apart across all threads (no bursts).

    In any window of T seconds at most rate * T + 1 requests start. `rate=None` means no limit.
    """

    def __init__(self, rate: float | None) -> None:
        self.interval = 0.0 if not rate else 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Block until this thread may send its next request."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)
