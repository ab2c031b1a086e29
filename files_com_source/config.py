"""Validation of user input: every problem becomes one FilesComConfigError naming the setting."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from census_source.config import is_loopback_host
from census_source.timestamps import parse_timestamp
from files_com_source.errors import FilesComConfigError
from files_com_source.settings import (
    CONFIG_SECTION,
    MAX_PER_PAGE,
    SECRET_CONFIG_KEY,
    SECRET_ENV_VAR,
    SITE_API_URL,
)

DateInput = datetime | date | str | None

_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Window:
    """A backfill window on a run's created_at: start inclusive, end exclusive."""

    start: datetime | None
    end: datetime | None

    def contains(self, instant: datetime) -> bool:
        """True when `instant` lies inside the window."""
        if self.start is not None and instant < self.start:
            return False
        return self.end is None or instant < self.end


def validate_api_key(api_key: object) -> str:
    """Return the key without surrounding blanks, or raise naming the config key."""
    where = f"{SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR})"
    if not isinstance(api_key, str) or not api_key.strip():
        raise FilesComConfigError(f"The Files.com API key is empty: set {where}")
    key = api_key.strip()
    if not key.isascii() or any(ch.isspace() or not ch.isprintable() for ch in key):
        raise FilesComConfigError(
            f"The Files.com API key contains blanks or non-ASCII characters: check {where}"
        )
    return key


def resolve_base_url(subdomain: str | None, base_url: str | None) -> str:
    """The API root: `base_url` if given (http only on loopback), else from the site subdomain."""
    if base_url is not None and str(base_url).strip():
        return _checked_base_url(str(base_url).strip().rstrip("/"))
    name = "" if subdomain is None else str(subdomain).strip().lower()
    if not name:
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.subdomain is not set: set it to your site's subdomain "
            "(acme for https://acme.files.com)"
        )
    if not _SUBDOMAIN.fullmatch(name):
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.subdomain {subdomain!r} is not a site subdomain: use just the "
            "first label (acme for https://acme.files.com), or set base_url for a custom domain"
        )
    return SITE_API_URL.format(subdomain=name)


def _checked_base_url(url: str) -> str:
    key = f"{CONFIG_SECTION}.base_url"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise FilesComConfigError(f"{key} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise FilesComConfigError(
            f"{key} {url!r} is not a valid URL: use https://host/api/rest/v1 "
            "(http:// only on loopback)"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise FilesComConfigError(f"{key} must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise FilesComConfigError(
            f"{key} uses plain http:// to {host}: use https:// (http:// only on loopback)"
        )
    return url


def _parse_date(name: str, value: DateInput) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    try:
        return parse_timestamp(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.{name} {value!r} is not an ISO-8601 date or datetime "
            "(e.g. 2025-01-31 or 2025-01-31T12:00:00Z)"
        ) from None


def parse_window(start_date: DateInput, end_date: DateInput, now: datetime) -> Window | None:
    """The backfill window, or None for an incremental load; naive values mean UTC."""
    start = _parse_date("start_date", start_date)
    end = _parse_date("end_date", end_date)
    if start is None and end is None:
        return None
    if start is not None and end is not None and end <= start:
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.end_date {end.isoformat()} is not after start_date "
            f"{start.isoformat()}: the window is start inclusive, end exclusive"
        )
    if start is not None and start > now.astimezone(UTC):
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.start_date {start.isoformat()} is in the future"
        )
    return Window(start=start, end=end)


def validate_tuning(per_page: int, overlap_seconds: float, open_lookback_hours: float) -> None:
    """Refuse a page size outside the API's range and a look-back the filters cannot honour."""
    if isinstance(per_page, bool) or not isinstance(per_page, int):
        raise FilesComConfigError(f"{CONFIG_SECTION}.per_page must be an integer, not {per_page!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.per_page must be between 1 and {MAX_PER_PAGE:,}, not {per_page}"
        )
    # filter_gt is strict and the API's timestamp precision is undocumented: stay >= 1 s below
    if overlap_seconds < 1:
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.overlap_seconds must be at least 1, not {overlap_seconds}"
        )
    if open_lookback_hours < 0:
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.open_lookback_hours must not be negative, not {open_lookback_hours}"
        )
