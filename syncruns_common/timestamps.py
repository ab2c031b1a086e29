"""Timestamp parsing: the API mixes precisions (…07Z, …07.5Z, …07.546Z), so compare instants."""

from datetime import UTC, datetime

from syncruns_common.values import parse_iso_instant


def parse_timestamp(value: str | datetime) -> datetime:
    """Return an aware UTC datetime for an ISO-8601 string or datetime; naive means UTC.

    Strings are read exactly as a timestamp column reads them (values.py), so a cursor and
    the row it came from always agree.
    """
    if not isinstance(value, datetime):
        return parse_iso_instant(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with microseconds, e.g. for pipeline state."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
