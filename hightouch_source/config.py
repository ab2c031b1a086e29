"""Validation of user input: every problem becomes one HightouchConfigError naming the setting."""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from census_source.config import Window, is_loopback_host
from census_source.timestamps import parse_timestamp
from hightouch_source.errors import HightouchConfigError
from hightouch_source.settings import CONFIG_SECTION, SECRET_CONFIG_KEY, SECRET_ENV_VAR

DateInput = datetime | date | str | None

__all__ = [
    "Window",
    "normalize_sync_ids",
    "parse_window",
    "resolve_base_url",
    "validate_api_key",
    "validate_range",
]


def validate_api_key(api_key: object) -> str:
    """Return the token stripped of surrounding blanks, or raise naming the config key."""
    where = f"{SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR})"
    if not isinstance(api_key, str) or not api_key.strip():
        raise HightouchConfigError(f"The Hightouch API key is empty: set {where}")
    token = api_key.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in token) or not token.isascii():
        raise HightouchConfigError(
            f"The Hightouch API key contains blanks or non-ASCII characters: check {where}"
        )
    return token


def resolve_base_url(base_url: str) -> str:
    """The API root (scheme and host, no /api/v1); plain http only on loopback."""
    url = str(base_url or "").strip().rstrip("/")
    name = f"{CONFIG_SECTION}.base_url"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise HightouchConfigError(f"{name} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise HightouchConfigError(
            f"{name} {url!r} is not a valid URL: use https://api.hightouch.com "
            "(http:// only on loopback)"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise HightouchConfigError(
            f"{name} must not carry credentials, a query or a fragment: {host}"
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        raise HightouchConfigError(
            f"{name} uses plain http:// to {host}: use https:// (http:// only on loopback)"
        )
    return url


def _parse_date(setting: str, value: DateInput) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    try:
        return parse_timestamp(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise HightouchConfigError(
            f"{CONFIG_SECTION}.{setting} {value!r} is not an ISO-8601 date or datetime "
            "(e.g. 2024-01-31 or 2024-01-31T12:00:00Z)"
        ) from None


def parse_window(start_date: DateInput, end_date: DateInput, now: datetime) -> Window | None:
    """The backfill window on a run's startedAt, or None for an incremental load.

    Start inclusive, end exclusive; naive values mean UTC.
    """
    start = _parse_date("start_date", start_date)
    end = _parse_date("end_date", end_date)
    if start is None and end is None:
        return None
    if start is not None and end is not None and end <= start:
        raise HightouchConfigError(
            f"{CONFIG_SECTION}.end_date {end.isoformat()} is not after "
            f"{CONFIG_SECTION}.start_date {start.isoformat()} (start inclusive, end exclusive)"
        )
    if start is not None and start > now.astimezone(UTC):
        raise HightouchConfigError(
            f"{CONFIG_SECTION}.start_date {start.isoformat()} is in the future"
        )
    return Window(start=start, end=end)


def normalize_sync_ids(sync_ids: Iterable[int | str] | int | str | None) -> tuple[str, ...] | None:
    """The selected sync ids as digit strings (None = every sync); refuse anything else."""
    if sync_ids is None:
        return None
    if isinstance(sync_ids, int | str):
        sync_ids = [part for part in str(sync_ids).split(",") if part.strip()]
    normalized: list[str] = []
    for raw in sync_ids:
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isdigit():
            raise HightouchConfigError(
                f"sync id {raw!r} is not a numeric Hightouch sync id: fix {CONFIG_SECTION}.sync_ids"
            )
        if str(int(text)) not in normalized:
            normalized.append(str(int(text)))
    if not normalized:
        raise HightouchConfigError(
            f"{CONFIG_SECTION}.sync_ids is empty: list sync ids or leave it unset"
        )
    return tuple(normalized)


def validate_range(setting: str, value: float, low: float, high: float | None = None) -> None:
    """Raise naming `sources.hightouch.<setting>` unless low <= value (<= high)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HightouchConfigError(f"{CONFIG_SECTION}.{setting} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise HightouchConfigError(f"{CONFIG_SECTION}.{setting} must be {bound}, not {value!r}")
