"""Progress on stderr while a load runs long: syncs done of total, runs, requests, time left.

A dlt collector: the sources report `Syncs` and `Runs` through it (syncruns_common.progress),
dlt its own counters (files, jobs, rows per table). Nothing shows while a step is shorter than
`after` seconds; then a snapshot goes to the display every period (progress_display) and a
last one when the step ends.
"""

import math
import os
import sys
import threading
import time
from types import TracebackType
from typing import Any, TextIO

from dlt.common.runtime.collector_base import Collector

from pipelines.progress_display import display_for
from pipelines.progress_snapshot import Counter, Snapshot
from pipelines.sources import UsageError
from syncruns_common.progress import requests_answered

AFTER_ENV = "SYNCRUNS_PROGRESS_AFTER"
PERIOD_ENV = "SYNCRUNS_PROGRESS_PERIOD"
DEFAULT_AFTER_S = 5.0
DEFAULT_PERIOD_S = 10.0


def seconds_setting(name: str, default: float, least: float) -> float:
    """A number of seconds from environment variable `name`; a bad value is a usage error."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value >= least or math.isinf(value):
        raise UsageError(f"{name}={raw!r} is not a number of seconds (at least {least:g})")
    return value


class LongWorkProgress(Collector):
    """dlt collector showing each step that runs at least `after` seconds (see module doc).

    `after` and `period` default to SYNCRUNS_PROGRESS_AFTER / SYNCRUNS_PROGRESS_PERIOD
    (5 s, 10 s); `stream` to stderr.
    """

    def __init__(
        self, after: float | None = None, period: float | None = None, stream: TextIO | None = None
    ) -> None:
        self.after = seconds_setting(AFTER_ENV, DEFAULT_AFTER_S, 0) if after is None else after
        self.period = (
            seconds_setting(PERIOD_ENV, DEFAULT_PERIOD_S, 0.1) if period is None else period
        )
        self.stream = stream or sys.stderr
        self.display = display_for(self.stream, self.period)
        self.step = ""
        self._lock = threading.Lock()
        self._counters: dict[str, Counter] = {}
        self._started = time.monotonic()
        self._requests_before = 0
        self._shown = False
        self._failed = False
        self._ended = threading.Event()
        self._ticker: threading.Thread | None = None

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        """Count `inc` more of `name` (dlt's Collector interface); `total` of it if known."""
        key = f"{name} ({label.lower()})" if label else name
        with self._lock:
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = Counter()
            if total is not None:
                counter.total = total
            if inc_total:
                counter.total = (counter.total or 0) + inc_total
            counter.count += inc

    def snapshot(self, ended: bool = False) -> Snapshot:
        """The step's counters now."""
        with self._lock:
            counters = {name: Counter(c.count, c.total) for name, c in self._counters.items()}
        return Snapshot(
            step=self.step,
            elapsed=time.monotonic() - self._started,
            counters=counters,
            requests=requests_answered() - self._requests_before,
            ended=ended,
            failed=self._failed,
        )

    def _start(self, step: str) -> None:
        self._counters = {}
        self._started = time.monotonic()
        self._requests_before = requests_answered()
        self._shown = self._failed = False
        self._ended = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="syncruns-progress", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        if self._ended.wait(self.after):
            return
        while True:
            self.display.show(self.snapshot())
            self._shown = True
            if self._ended.wait(self.display.period):
                return

    def _stop(self) -> None:
        self._ended.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        if self._shown:
            self.display.finish(self.snapshot(ended=True))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._failed = exc_type is not None
        super().__exit__(exc_type, exc_val, exc_tb)  # type: ignore[arg-type]

    def __deepcopy__(self, memo: dict[int, Any]) -> "LongWorkProgress":
        # dlt copies the collector for a renamed pipeline; locks and threads do not copy
        return LongWorkProgress(self.after, self.period, self.stream)
