"""Progress on stderr for long work only: dlt's LogCollector, silent while a step is short."""

import sys
import time

from dlt.common.runtime.collector import LogCollector


class LongWorkProgress(LogCollector):
    """Logs dlt's step counters every `log_period` seconds once a step has run `after` seconds."""

    def __init__(self, after: float = 5.0, log_period: float = 10.0) -> None:
        super().__init__(log_period=log_period, logger=sys.stderr, dump_system_stats=False)
        self.after = after
        self._step_started = time.monotonic()

    def _start(self, step: str) -> None:
        super()._start(step)
        self._step_started = time.monotonic()

    def on_log(self) -> None:
        if time.monotonic() - self._step_started >= self.after:
            super().on_log()
