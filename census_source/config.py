"""Validation of user input: every problem becomes one CensusConfigError naming what to fix."""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from census_source.errors import CensusConfigError
from census_source.settings import (
    REGION_BASE_URLS,
    SECRET_CONFIG_KEY,
    SECRET_ENV_VAR,
    V2_BASE_URL,
)
from census_source.timestamps import parse_timestamp
from census_source.versions import VERSIONS, ApiVersion

DateInput = datetime | date | str | None


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
    """Return the token stripped of surrounding blanks, or raise naming the config key."""
    where = f"{SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR})"
    if not isinstance(api_key, str) or not api_key.strip():
        raise CensusConfigError(f"The Census API token is empty: set {where}")
    token = api_key.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in token) or not token.isascii():
        raise CensusConfigError(
            f"The Census API token contains blanks or non-ASCII characters: check {where}"
        )
    return token


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_api_version(api_version: object) -> ApiVersion:
    """The API version named by `api_version` ('v1' or 'v2')."""
    key = str(api_version).strip().lower()
    if key not in VERSIONS:
        raise CensusConfigError(
            f"Unknown API version {api_version!r}: set sources.census.api_version to 'v1' or 'v2'"
        )
    return VERSIONS[key]


def validate_group_id(group_id: object, version: ApiVersion) -> str | None:
    """The workspace (group) to scope v2 to, or None for every group the token can see."""
    if group_id is None or (isinstance(group_id, str) and not group_id.strip()):
        return None
    text = str(group_id).strip()
    if version.name != "v2":
        raise CensusConfigError(
            "sources.census.group_id applies only to API v2: set sources.census.api_version "
            "to 'v2' or remove group_id (a v1 workspace token is already scoped)"
        )
    if isinstance(group_id, bool) or not text.isprintable() or any(ch.isspace() for ch in text):
        raise CensusConfigError(f"sources.census.group_id {group_id!r} is not a valid group id")
    return text


def resolve_base_url(region: str, base_url: str | None, version: ApiVersion | None = None) -> str:
    """Pick the API root from `base_url`, or `region` (v1) / the v2 root; refuse plain http off
    loopback and a base_url that names the other API version."""
    version = version or VERSIONS["v1"]
    if (base_url is None or not str(base_url).strip()) and version.name == "v2":
        return V2_BASE_URL
    if base_url is None or not str(base_url).strip():
        key = str(region).strip().lower()
        if key not in REGION_BASE_URLS:
            choices = " or ".join(repr(name) for name in REGION_BASE_URLS)
            raise CensusConfigError(
                f"Unknown region {region!r}: set sources.census.region to {choices}"
            )
        return REGION_BASE_URLS[key]
    url = str(base_url).strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise CensusConfigError(
            f"sources.census.base_url {url!r} is not a valid URL ({exc})"
        ) from None
    if parts.scheme not in ("http", "https") or not host:
        raise CensusConfigError(
            f"sources.census.base_url {url!r} is not a valid URL: "
            "use https://host/api/v1 (http:// only on loopback)"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise CensusConfigError(
            f"sources.census.base_url must not carry credentials, a query or a fragment: {host}"
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        raise CensusConfigError(
            f"sources.census.base_url uses plain http:// to {host}: use https:// "
            "(http:// is allowed only on loopback)"
        )
    for other in VERSIONS:
        if other != version.name and parts.path.rstrip("/").endswith(f"/api/{other}"):
            raise CensusConfigError(
                f"sources.census.base_url ends with /api/{other} but sources.census.api_version "
                f"is {version.name!r}: make them agree"
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
        raise CensusConfigError(
            f"{name} {value!r} is not an ISO-8601 date or datetime (e.g. 2024-01-31T00:00:00Z)"
        ) from None


def parse_window(start_date: DateInput, end_date: DateInput, now: datetime) -> Window | None:
    """Return the backfill window, or None for an incremental run; naive values mean UTC."""
    start = _parse_date("start_date", start_date)
    end = _parse_date("end_date", end_date)
    if start is None and end is None:
        return None
    if start is not None and end is not None and end <= start:
        raise CensusConfigError(
            f"end_date {end.isoformat()} is not after start_date {start.isoformat()}: "
            "the window is start inclusive, end exclusive"
        )
    if start is not None and start > now.astimezone(UTC):
        raise CensusConfigError(f"start_date {start.isoformat()} is in the future")
    return Window(start=start, end=end)


def normalize_sync_ids(
    sync_ids: Iterable[int | str] | int | str | None, numeric: bool = True
) -> tuple[str, ...] | None:
    """Return the selected sync ids as strings (None = every sync).

    v1 ids are numbers; v2 ids may be any string, so only blanks and control characters are
    refused there.
    """
    if sync_ids is None:
        return None
    if isinstance(sync_ids, int | str):
        sync_ids = [part for part in str(sync_ids).split(",") if part.strip()]
    normalized: list[str] = []
    for raw in sync_ids:
        text = str(raw).strip()
        if numeric and (isinstance(raw, bool) or not (text.isascii() and text.isdigit())):
            raise CensusConfigError(
                f"sync id {raw!r} is not a numeric Census sync id: fix sources.census.sync_ids"
            )
        if isinstance(raw, bool) or not text or not text.isprintable() or " " in text:
            raise CensusConfigError(
                f"sync id {raw!r} is not a valid id: fix sources.census.sync_ids"
            )
        if numeric and text.isdigit():
            text = str(int(text))
        if text not in normalized:
            normalized.append(text)
    if not normalized:
        raise CensusConfigError("sources.census.sync_ids is empty: list sync ids or leave it unset")
    return tuple(normalized)
