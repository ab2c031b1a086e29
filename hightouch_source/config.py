"""Validation of user input: every problem becomes one HightouchConfigError naming the setting."""

from datetime import datetime

from hightouch_source.errors import HightouchConfigError
from hightouch_source.settings import CONFIG_SECTION, SECRET_CONFIG_KEY, SECRET_ENV_VAR
from syncruns_common import tokens, window
from syncruns_common.sync_ids import SyncIdsInput
from syncruns_common.sync_ids import normalize_sync_ids as sync_ids_of
from syncruns_common.urls import UrlWords, check_base_url
from syncruns_common.window import DateInput, Window, WindowWords

__all__ = [
    "Window",
    "normalize_sync_ids",
    "parse_window",
    "resolve_base_url",
    "validate_api_key",
    "validate_range",
]

_URL_WORDS = UrlWords(setting=f"{CONFIG_SECTION}.base_url", example="https://api.hightouch.com")
_WINDOW_WORDS = WindowWords(
    bad_date=f"{CONFIG_SECTION}.{{setting}} {{value!r}} is not an ISO-8601 date or datetime "
    "(e.g. 2024-01-31 or 2024-01-31T12:00:00Z)",
    end_not_after_start=f"{CONFIG_SECTION}.end_date {{end}} is not after "
    f"{CONFIG_SECTION}.start_date {{start}} (start inclusive, end exclusive)",
    start_in_future=f"{CONFIG_SECTION}.start_date {{start}} is in the future",
)


def validate_api_key(api_key: object) -> str:
    """Return the token stripped of surrounding blanks, or raise naming the config key."""
    return tokens.validate_api_key(
        api_key, HightouchConfigError, "The Hightouch API key", SECRET_CONFIG_KEY, SECRET_ENV_VAR
    )


def resolve_base_url(base_url: str) -> str:
    """The API root (scheme and host, no /api/v1); plain http only on loopback."""
    url = str(base_url or "").strip().rstrip("/")
    check_base_url(url, HightouchConfigError, _URL_WORDS)
    return url


def parse_window(start_date: DateInput, end_date: DateInput, now: datetime) -> Window | None:
    """The backfill window on a run's startedAt, or None for an incremental load.

    Start inclusive, end exclusive; naive values mean UTC.
    """
    return window.parse_window(start_date, end_date, now, HightouchConfigError, _WINDOW_WORDS)


def normalize_sync_ids(sync_ids: SyncIdsInput) -> tuple[str, ...] | None:
    """The selected sync ids as digit strings (None = every sync); refuse anything else."""
    return sync_ids_of(sync_ids, HightouchConfigError, "Hightouch", f"{CONFIG_SECTION}.sync_ids")


def validate_range(setting: str, value: float, low: float, high: float | None = None) -> None:
    """Raise naming `sources.hightouch.<setting>` unless low <= value (<= high)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HightouchConfigError(f"{CONFIG_SECTION}.{setting} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise HightouchConfigError(f"{CONFIG_SECTION}.{setting} must be {bound}, not {value!r}")
