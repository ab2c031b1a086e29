"""Backfill windows: two dates in, one checked window out; naive values mean UTC."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from syncruns_common.timestamps import parse_timestamp

DateInput = datetime | date | str | None


@dataclass(frozen=True)
class Window:
    """A backfill window on a run's timestamp: start inclusive, end exclusive."""

    start: datetime | None
    end: datetime | None

    def contains(self, instant: datetime) -> bool:
        """True when `instant` lies inside the window."""
        if self.start is not None and instant < self.start:
            return False
        return self.end is None or instant < self.end


@dataclass(frozen=True)
class WindowWords:
    """How one source words a bad window (`str.format` templates, each naming its settings).

    `bad_date` gets `setting` (start_date, end_date) and `value`; `end_not_after_start` gets
    `end` and `start`; `start_in_future` gets `start` (both as ISO-8601 text).
    """

    bad_date: str
    end_not_after_start: str
    start_in_future: str


def parse_window(
    start_date: DateInput,
    end_date: DateInput,
    now: datetime,
    error: type[Exception],
    words: WindowWords,
) -> Window | None:
    """The backfill window, or None for an incremental load; raise `error` naming what to fix.

    The end must be after the start and the start must not be in the future.
    """
    start = _parse_date("start_date", start_date, error, words)
    end = _parse_date("end_date", end_date, error, words)
    if start is None and end is None:
        return None
    if start is not None and end is not None and end <= start:
        raise error(words.end_not_after_start.format(end=end.isoformat(), start=start.isoformat()))
    if start is not None and start > now.astimezone(UTC):
        raise error(words.start_in_future.format(start=start.isoformat()))
    return Window(start=start, end=end)


def _parse_date(
    setting: str, value: DateInput, error: type[Exception], words: WindowWords
) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    try:
        return parse_timestamp(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise error(words.bad_date.format(setting=setting, value=value)) from None
