"""Timestamp parsing: the API mixes precisions (…07Z, …07.5Z, …07.546Z), so compare instants."""

from datetime import UTC, datetime


def parse_timestamp(value: str | datetime) -> datetime:
    """Return an aware UTC datetime for an ISO-8601 string or datetime; naive means UTC."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with microseconds, e.g. for pipeline state."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
