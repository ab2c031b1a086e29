"""Validation of user input: every problem becomes one CensusConfigError naming what to fix."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from census_source import v2_facts
from census_source.errors import CensusConfigError
from census_source.settings import SECRET_CONFIG_KEY, SECRET_ENV_VAR
from census_source.versions import VERSIONS, ApiVersion, placeholders
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
    "validate_group_ids",
    "with_v2_paths",
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
    """The one group (workspace) to scope v2 to, or None for every group the token can see."""
    groups = validate_group_ids(None, group_id, version)
    return None if groups is None else groups[0]


def validate_group_ids(
    group_ids: object, group_id: object, version: ApiVersion
) -> tuple[str, ...] | None:
    """The groups to load (v2), in order without repeats; None for every group the token sees.

    `group_id` is the single-value alias; the CLI passes its repeated `--group-id` there as a list.
    """
    named = [
        (key, _group_values(value, key))
        for key, value in (("group_ids", group_ids), ("group_id", group_id))
    ]
    given = [(key, values) for key, values in named if values]
    if len(given) > 1:
        raise CensusConfigError(
            "sources.census.group_ids and sources.census.group_id are both set: keep one"
        )
    if not given:
        if version.group_required_on:
            raise CensusConfigError(
                f"Census API {version.name} needs a group id: set sources.census.group_id "
                f"(several: group_ids; CLI --group-id); {v2_facts.GROUP_LOOKUP_HINT}"
            )
        return None
    key, values = given[0]
    if version.name != "v2":
        raise CensusConfigError(
            f"sources.census.{key} applies only to API v2: set sources.census.api_version "
            f"to 'v2' or remove {key} (a v1 workspace token is already scoped)"
        )
    return tuple(dict.fromkeys(values))


def _group_values(value: object, key: str) -> list[str]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    items = [value] if isinstance(value, str | int) else value
    if isinstance(value, bool) or not isinstance(items, Sequence):
        raise CensusConfigError(f"sources.census.{key} {value!r} is not a valid group id")
    texts = []
    for item in items:
        text = str(item).strip()
        if (
            isinstance(item, bool)
            or not isinstance(item, str | int)
            or not text
            or not text.isprintable()
            or any(ch.isspace() for ch in text)
        ):
            raise CensusConfigError(f"sources.census.{key} {item!r} is not a valid group id")
        texts.append(text)
    return texts


def with_v2_paths(
    version: ApiVersion, v2_paths: object, groups: tuple[str, ...] | None
) -> ApiVersion:
    """`version` with the endpoints `sources.census.v2_paths` moves (v2 only), each path checked."""
    if v2_paths is None or v2_paths == {}:
        return version
    key = "sources.census.v2_paths"
    if version.name != "v2":
        raise CensusConfigError(
            f"{key} applies only to API v2: set sources.census.api_version to 'v2' or remove it"
        )
    if not isinstance(v2_paths, Mapping):
        raise CensusConfigError(
            f'{key} must map endpoint names to paths, e.g. {{syncs = "/activation_syncs"}}'
        )
    names = ", ".join(v2_facts.ENDPOINTS)
    for endpoint, template in v2_paths.items():
        if endpoint not in v2_facts.REQUIRED_PLACEHOLDERS:
            raise CensusConfigError(f"{key} has no endpoint {endpoint!r}: use {names}")
        _check_path(f"{key}.{endpoint}", endpoint, template, groups)
    return version.with_paths({str(name): str(path) for name, path in v2_paths.items()})


def _check_path(key: str, endpoint: str, template: object, groups: object) -> None:
    required = v2_facts.REQUIRED_PLACEHOLDERS[endpoint]
    allowed = (*required, v2_facts.GROUP_PLACEHOLDER)
    example = v2_facts.V2_PATHS[endpoint]
    if not isinstance(template, str) or not template.startswith("/") or "?" in template:
        raise CensusConfigError(f"{key} must be a path starting with / (e.g. {example!r})")
    if not template.isprintable() or any(ch.isspace() for ch in template):
        raise CensusConfigError(f"{key} {template!r} must not hold blanks or control characters")
    try:
        fields = placeholders(template)
    except ValueError:
        raise CensusConfigError(f"{key} {template!r} has an unclosed {{ or }}") from None
    unknown = [name for name in fields if name not in allowed]
    if unknown:
        choices = ", ".join("{" + name + "}" for name in allowed)
        raise CensusConfigError(f"{key} uses {{{unknown[0]}}}: it may hold only {choices}")
    missing = [name for name in required if name not in fields]
    if missing:
        raise CensusConfigError(f"{key} must hold {{{missing[0]}}} (e.g. {example!r})")
    if endpoint == v2_facts.SYNCS and v2_facts.GROUP_PLACEHOLDER in fields and not groups:
        raise CensusConfigError(
            f"{key} holds {{group_id}}: set sources.census.group_id (or group_ids) to the "
            "group(s) to load"
        )


def resolve_base_url(region: str, base_url: str | None, version: ApiVersion | None = None) -> str:
    """Pick the API root from `base_url`, else the version's root for `region`; refuse plain
    http off loopback and a base_url that names the other API version."""
    version = version or VERSIONS["v1"]
    if base_url is None or not str(base_url).strip():
        key = str(region).strip().lower()
        if key not in version.roots:
            choices = " or ".join(repr(name) for name in version.roots)
            raise CensusConfigError(
                f"Unknown region {region!r}: set sources.census.region to {choices}"
            )
        return version.roots[key]
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
