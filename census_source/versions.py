"""What differs between Census API v1 and v2, kept in one place.

Documented: v2 lives at one root (`https://app.getcensus.com/api/v2`, no regional hosts), takes
a personal access token as Bearer (no workspace tokens), objects carry a string `group_id` (a
Fivetran group is a Census workspace), and the envelope and pagination are those of v1.
Assumed (not documented at the time of writing; see README "Census API v2"): the list, fetch and
records paths are those of v1; the workspace scope is the `group_id` query parameter of the sync
list; ids may arrive as strings, so v2 loads them as text unless the dataset already holds them
as integers (a dataset migrated from v1).
"""

from dataclasses import dataclass
from datetime import date
from typing import Literal

from census_source.settings import V1_RETIRED_ON, V1_WARN_FROM

IdType = Literal["bigint", "text"]


@dataclass(frozen=True)
class ApiVersion:
    """One Census API version: how to authenticate, scope and type what it returns."""

    name: str
    token_kind: str
    other_token_kind: str
    new_dataset_id_type: IdType
    numeric_ids: bool

    def sync_list_params(self, group_id: str | None) -> dict[str, str]:
        """Query parameters that scope the sync list to one workspace."""
        return {"group_id": group_id} if group_id is not None else {}


V1 = ApiVersion(
    name="v1",
    token_kind="workspace API token",
    other_token_kind="personal access token",
    new_dataset_id_type="bigint",
    numeric_ids=True,
)
V2 = ApiVersion(
    name="v2",
    token_kind="personal access token",
    other_token_kind="workspace API token",
    new_dataset_id_type="text",
    numeric_ids=False,
)
VERSIONS = {version.name: version for version in (V1, V2)}


def retirement_notice(version: ApiVersion, today: date) -> str | None:
    """A warning for loads on API v1 from a month before its retirement; None otherwise."""
    if version is not V1 or today < V1_WARN_FROM:
        return None
    when = "was retired" if today >= V1_RETIRED_ON else "will be retired"
    return (
        f"Census API v1 {when} on {V1_RETIRED_ON.isoformat()}: switch to v2 "
        "(sources.census.api_version = 'v2' with a personal access token; README 'Census API v2')"
    )
