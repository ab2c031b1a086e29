"""What differs between Census API v1 and v2, as one ApiVersion each.

v1 is documented; every v2 value comes from census_source/v2_facts.py, where each fact keeps its
evidence. A user's `sources.census.v2_paths` makes a copy of V2 with those paths (`with_paths`).
"""

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal
from urllib.parse import quote

from census_source import v2_facts
from census_source.settings import REGION_BASE_URLS, V1_RETIRED_ON, V1_WARN_FROM

IdType = Literal["bigint", "text"]


@dataclass(frozen=True)
class ApiVersion:
    """One Census API version: roots, paths, token kind, group scope and id types."""

    name: str
    token_kind: str
    other_token_kind: str
    new_dataset_id_type: IdType
    numeric_ids: bool
    roots: Mapping[str, str]
    paths: Mapping[str, str]
    group_sent_on: frozenset[str] = field(default_factory=frozenset)
    group_required_on: frozenset[str] = field(default_factory=frozenset)

    def path(self, endpoint: str, group_id: str | None = None, **ids: str) -> str:
        """The path of `endpoint` with its ids (each one quoted as one URL segment)."""
        values = {name: quote(str(value), safe="") for name, value in ids.items()}
        if group_id is not None:
            values[v2_facts.GROUP_PLACEHOLDER] = quote(group_id, safe="")
        return self.paths[endpoint].format_map(values)

    def path_needs_group(self, endpoint: str) -> bool:
        """Whether the path of `endpoint` holds {group_id}."""
        return v2_facts.GROUP_PLACEHOLDER in placeholders(self.paths[endpoint])

    def params(self, endpoint: str, group_id: str | None) -> dict[str, str]:
        """The group query parameter `endpoint` carries (none when the group is unknown)."""
        if group_id is None or endpoint not in self.group_sent_on:
            return {}
        return {v2_facts.GROUP_PARAM: group_id}

    def with_paths(self, paths: Mapping[str, str]) -> "ApiVersion":
        """This version with some endpoints at other paths."""
        return replace(self, paths={**self.paths, **paths}) if paths else self


def placeholders(template: str) -> list[str]:
    """The `{name}` fields of a path template (ValueError when it is not one)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


V1 = ApiVersion(
    name="v1",
    token_kind="workspace API token",
    other_token_kind="personal access token",
    new_dataset_id_type="bigint",
    numeric_ids=True,
    roots=REGION_BASE_URLS,
    paths=v2_facts.V1_PATHS,
)
V2 = ApiVersion(
    name="v2",
    token_kind="personal access token",
    other_token_kind="workspace API token",
    new_dataset_id_type=v2_facts.NEW_DATASET_ID_TYPE,
    numeric_ids=v2_facts.NUMERIC_IDS,
    roots=v2_facts.V2_ROOTS,
    paths=v2_facts.V2_PATHS,
    group_sent_on=v2_facts.GROUP_SENT_ON,
    group_required_on=v2_facts.GROUP_REQUIRED_ON,
)
VERSIONS = {version.name: version for version in (V1, V2)}


def retirement_notice(version: ApiVersion, today: date) -> str | None:
    """A warning for loads on API v1 from a month before its retirement; None otherwise."""
    if version.name != V1.name or today < V1_WARN_FROM:
        return None
    when = "was retired" if today >= V1_RETIRED_ON else "will be retired"
    return (
        f"Census API v1 {when} on {V1_RETIRED_ON.isoformat()}: switch to v2 "
        "(sources.census.api_version = 'v2' with a personal access token; README 'Census API v2')"
    )
