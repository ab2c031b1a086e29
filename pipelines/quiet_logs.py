"""Keep off stderr the dlt log lines that the command's one-line report says better.

When the command is being interrupted, or a device is full, dlt logs what it does about it
(draining jobs, retrying a job five times, each with a traceback): ~90 lines for a full disk.
The command ends with one line saying what happened and what the next run does; `--debug`
keeps dlt's lines. Warnings dlt raises on every load of a destination are dropped too.
"""

import logging
import warnings
from collections.abc import Callable

from pipelines.disk_full import mentions_no_space, no_space_cause
from pipelines.exit_codes import causes


class _Explained(logging.Filter):
    """Drops dlt's records while stopping, and from the first one that says a device is full."""

    def __init__(self, stopping: Callable[[], bool]) -> None:
        super().__init__()
        self.stopping = stopping
        self.disk_full = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.stopping():
            return False
        if not self.disk_full and _says_no_space(record):
            self.disk_full = True  # the retries and warnings that follow are about it too
        return not self.disk_full


def _says_no_space(record: logging.LogRecord) -> bool:
    if mentions_no_space(record.getMessage()):
        return True
    error = record.exc_info[1] if record.exc_info else None
    return error is not None and no_space_cause(causes(error)) is not None


class QuietDltLogs:
    """The filter on dlt's logger for one command."""

    def __init__(self, stopping: Callable[[], bool]) -> None:
        self._filter = _Explained(stopping)
        self._logger = logging.getLogger("dlt")

    def install(self) -> None:
        """Start filtering."""
        self._logger.addFilter(self._filter)

    def uninstall(self) -> None:
        """Stop filtering."""
        self._logger.removeFilter(self._filter)


def quiet_dlt_warnings() -> None:
    """Drop the SQLAlchemy warnings dlt's sqlalchemy merge job raises on every merge (three per
    table): they are about how dlt builds its SQL, and a user can do nothing about them."""
    for message in ("implicitly coercing SELECT object", "Coercing Subquery object into a select"):
        warnings.filterwarnings(
            "ignore", message=message, module=r"dlt\.destinations\.impl\.sqlalchemy\."
        )
