"""Validation of user input: every problem becomes one FilesComConfigError naming the setting."""

import re
from datetime import datetime

from files_com_source.errors import FilesComConfigError
from files_com_source.settings import (
    CONFIG_SECTION,
    MAX_PER_PAGE,
    SECRET_CONFIG_KEY,
    SECRET_ENV_VAR,
    SITE_API_URL,
)
from syncruns_common import tokens, window
from syncruns_common.urls import UrlWords, check_base_url
from syncruns_common.window import DateInput, Window, WindowWords

__all__ = [
    "Window",
    "parse_window",
    "resolve_base_url",
    "validate_api_key",
    "validate_tuning",
    "validate_workspace_id",
]

_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_URL_WORDS = UrlWords(
    setting=f"{CONFIG_SECTION}.base_url",
    example="https://host/api/rest/v1",
    credentials="{setting} must not carry credentials, a query or a fragment",
)
_WINDOW_WORDS = WindowWords(
    bad_date=f"{CONFIG_SECTION}.{{setting}} {{value!r}} is not an ISO-8601 date or datetime "
    "(e.g. 2025-01-31 or 2025-01-31T12:00:00Z)",
    end_not_after_start=f"{CONFIG_SECTION}.end_date {{end}} is not after start_date {{start}}: "
    "the window is start inclusive, end exclusive",
    start_in_future=f"{CONFIG_SECTION}.start_date {{start}} is in the future",
)


def validate_api_key(api_key: object) -> str:
    """Return the key without surrounding blanks, or raise naming the config key."""
    return tokens.validate_api_key(
        api_key, FilesComConfigError, "The Files.com API key", SECRET_CONFIG_KEY, SECRET_ENV_VAR
    )


def resolve_base_url(subdomain: str | None, base_url: str | None) -> str:
    """The API root: `base_url` if given (http only on loopback), else from the site subdomain."""
    if base_url is not None and str(base_url).strip():
        url = str(base_url).strip().rstrip("/")
        check_base_url(url, FilesComConfigError, _URL_WORDS)
        return url
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


def parse_window(start_date: DateInput, end_date: DateInput, now: datetime) -> Window | None:
    """The backfill window, or None for an incremental load; naive values mean UTC."""
    return window.parse_window(start_date, end_date, now, FilesComConfigError, _WINDOW_WORDS)


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


def validate_workspace_id(workspace_id: object) -> None:
    """Refuse a workspace id that is not a whole number >= 0 (None: send no header)."""
    if workspace_id is None:
        return
    if isinstance(workspace_id, bool) or not isinstance(workspace_id, int) or workspace_id < 0:
        raise FilesComConfigError(
            f"{CONFIG_SECTION}.workspace_id must be a whole number >= 0 (0 is the Default "
            f"Workspace), not {workspace_id!r}"
        )
