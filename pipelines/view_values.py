"""The views' rows as the same Python values on every engine.

Engines return the views' columns in their own types: SQLite gives text for timestamps and
days, MySQL a naive UTC datetime, some drivers Decimal for sums. The report and the check read
rows through `typed_row`, so they see aware UTC datetimes, dates, ints and floats everywhere.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

INSTANT_COLUMNS = frozenset({"last_run_at", "last_success_at", "created_at", "completed_at"})
DATE_COLUMNS = frozenset({"day"})
FLOAT_COLUMNS = frozenset(
    {"failure_rate_7d", "failure_rate_30d", "p50_duration_s", "p95_duration_s"}
)
TEXT_COLUMNS = frozenset(
    {
        "source",
        "sync_id",
        "sync_label",
        "run_id",
        "status",
        "last_run_id",
        "last_run_status",
        "error_code",
        "error_message",
        "error_detail",
    }
)


def typed_row(row: dict[str, Any]) -> dict[str, Any]:
    """A view's row with engine-neutral values (columns are matched by lower-cased name)."""
    return {name.lower(): typed_value(name.lower(), value) for name, value in row.items()}


def typed_value(column: str, value: Any) -> Any:
    """One value of a view's column as the report expects it (None stays None)."""
    if value is None:
        return None
    if column in INSTANT_COLUMNS:
        return as_utc(value)
    if column in DATE_COLUMNS:
        return as_date(value)
    if column in FLOAT_COLUMNS:
        return float(value)
    if column in TEXT_COLUMNS:
        return str(value)
    if isinstance(value, Decimal | float) and value == int(value):
        return int(value)  # counts and sums that a driver returned as Decimal
    return value


def as_utc(value: Any) -> datetime:
    """An aware UTC datetime from an aware or naive (UTC wall clock) datetime or ISO text."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:  # SQLite's text and MySQL's DATETIME hold the UTC wall clock
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def as_date(value: Any) -> date:
    """A date from a date, a datetime (some drivers) or ISO text (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
