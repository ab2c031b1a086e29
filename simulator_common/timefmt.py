"""Conversions between integer microseconds since the epoch and API timestamp strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_MS = 1_000
US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
US_PER_HOUR = 3_600 * US_PER_S

_hour_prefix_cache: dict[int, str] = {}


def to_us(moment: datetime) -> int:
    """Return microseconds since the Unix epoch for a timezone-aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    """Return the UTC datetime for microseconds since the Unix epoch."""
    return EPOCH + timedelta(microseconds=us)


def format_us(us: int) -> str:
    """Format microseconds as an ISO-8601 UTC string ending in ``Z``.

    The fraction is as short as the value allows: none for whole seconds, one digit for
    whole tenths, three for whole milliseconds, six otherwise. Mixed precision in the
    simulated API therefore follows from how a timestamp was truncated.
    """
    hour, rest = divmod(us, US_PER_HOUR)
    prefix = _hour_prefix_cache.get(hour)
    if prefix is None:
        prefix = (EPOCH + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:")
        _hour_prefix_cache[hour] = prefix
    secs, frac = divmod(rest, US_PER_S)
    minutes, secs = divmod(secs, 60)
    if frac == 0:
        return f"{prefix}{minutes:02d}:{secs:02d}Z"
    if frac % 100_000 == 0:
        return f"{prefix}{minutes:02d}:{secs:02d}.{frac // 100_000}Z"
    if frac % 1_000 == 0:
        return f"{prefix}{minutes:02d}:{secs:02d}.{frac // 1_000:03d}Z"
    return f"{prefix}{minutes:02d}:{secs:02d}.{frac:06d}Z"


def parse_us(text: str) -> int:
    """Parse an ISO-8601 timestamp (with offset or ``Z``) into microseconds since the epoch."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without timezone: {text!r}")
    return to_us(moment)


def coerce_timestamp(value: object) -> object:
    """Turn a datetime into an API timestamp string; leave anything else unchanged."""
    if isinstance(value, datetime):
        return format_us(to_us(value))
    return value
