"""Validation of user input: every problem becomes one CensusConfigError naming what to fix."""

from datetime import datetime

from census_source.errors import CensusConfigError
from census_source.settings import (
    REGION_BASE_URLS,
    SECRET_CONFIG_KEY,
    SECRET_ENV_VAR,
    V2_BASE_URL,
)
from census_source.versions import VERSIONS, ApiVersion
from syncruns_common import tokens, window
from syncruns_common.sync_ids import SyncIdsInput
from syncruns_common.sync_ids import normalize_sync_ids as sync_ids_of
from syncruns_common.urls import UrlWords, check_base_url, is_loopback_host
from syncruns_common.window import DateInput, Window, WindowWords

__all__ = [
    "DateInput",
    "Window",
    "is_loopback_host",
    "normalize_sync_ids",
    "parse_api_version",
    "parse_window",
    "resolve_base_url",
    "validate_api_key",
    "validate_group_id",
]

_URL_WORDS = UrlWords(
    setting="sources.census.base_url",
    example="https://host/api/v1",
    plain_http="{setting} uses plain http:// to {host}: use https:// "
    "(http:// is allowed only on loopback)",
)
_WINDOW_WORDS = WindowWords(
    bad_date="{setting} {value!r} is not an ISO-8601 date or datetime (e.g. 2024-01-31T00:00:00Z)",
    end_not_after_start="end_date {end} is not after start_date {start}: "
    "the window is start inclusive, end exclusive",
    start_in_future="start_date {start} is in the future",
)


def validate_api_key(api_key: object) -> str:
    """Return the token stripped of surrounding blanks, or raise naming the config key."""
    return tokens.validate_api_key(
        api_key, CensusConfigError, "The Census API token", SECRET_CONFIG_KEY, SECRET_ENV_VAR
    )


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
    parts = check_base_url(url, CensusConfigError, _URL_WORDS)
    for other in VERSIONS:
        if other != version.name and parts.path.rstrip("/").endswith(f"/api/{other}"):
            raise CensusConfigError(
                f"sources.census.base_url ends with /api/{other} but sources.census.api_version "
                f"is {version.name!r}: make them agree"
            )
    return url


def parse_window(start_date: DateInput, end_date: DateInput, now: datetime) -> Window | None:
    """Return the backfill window, or None for an incremental run; naive values mean UTC."""
    return window.parse_window(start_date, end_date, now, CensusConfigError, _WINDOW_WORDS)


def normalize_sync_ids(sync_ids: SyncIdsInput, numeric: bool = True) -> tuple[str, ...] | None:
    """Return the selected sync ids as strings (None = every sync).

    v1 ids are numbers; v2 ids may be any string, so only blanks and control characters are
    refused there.
    """
    return sync_ids_of(sync_ids, CensusConfigError, "Census", "sources.census.sync_ids", numeric)
