"""Every way Census API v2 differs from v1, as data: one fact per constant, with its evidence.

A fact Census publishes is a one-line change here. Until then, a user can override the paths
in config (`sources.census.v2_paths`, see README "Census API v2") and the root (`base_url`).
Sources (read 2026-12): Fivetran's "Migrate from API V1 to V2" page (fivetran.com/docs/
activations/rest-api/api-reference/migrate-v1-to-v2, "the guide"); the v2 client of
sutrolabs/terraform-provider-census (census/client/v2/, "Terraform"); PostHog's Census source
docs (posthog.com/docs/data-pipelines/sources/census, "PostHog").
"""

from typing import Final

# The endpoints this source calls, by the names `sources.census.v2_paths` uses.
SYNCS: Final = "syncs"
SYNC_RUNS: Final = "sync_runs"
SYNC_RUN: Final = "sync_run"
RECORDS: Final = "records"
ENDPOINTS: Final = (SYNCS, SYNC_RUNS, SYNC_RUN, RECORDS)

# Placeholders each path must hold; any path may also hold {group_id}.
REQUIRED_PLACEHOLDERS: Final[dict[str, tuple[str, ...]]] = {
    SYNCS: (),
    SYNC_RUNS: ("sync_id",),
    SYNC_RUN: ("run_id",),
    RECORDS: ("run_id",),
}
GROUP_PLACEHOLDER: Final = "group_id"

# Documented for v1 (Census API reference: List Syncs, List Sync Runs, Fetch Sync Run, Records).
V1_PATHS: Final[dict[str, str]] = {
    SYNCS: "/syncs",
    SYNC_RUNS: "/syncs/{sync_id}/sync_runs",
    SYNC_RUN: "/sync_runs/{run_id}",
    RECORDS: "/sync_runs/{run_id}/records",
}

# ASSUMED: v1's paths under /api/v2. The guide renames /destinations -> /activations and
# /connectors -> /activation_types but lists no rename for syncs or runs; its v2 reference
# section is titled "Activation Syncs", so a move to e.g. /activation_syncs is possible.
V2_PATHS: Final[dict[str, str]] = dict(V1_PATHS)

# Per region. PUBLISHED (the guide): only the base path changes, /api/v1 -> /api/v2; PostHog's
# v2-era docs keep the EU host (app-eu.getcensus.com). CONTRADICTED by Terraform's v2 client
# ("BaseURL is the only v2 API root - no regional variants exist"), so EU goes to the EU host
# (an EU workspace is not on the US host in v1 either) and `base_url` overrides it.
V2_ROOTS: Final[dict[str, str]] = {
    "us": "https://app.getcensus.com/api/v2",
    "eu": "https://app-eu.getcensus.com/api/v2",
}

# PUBLISHED (the guide): the scope is "a Fivetran group (group_id)"; v2 objects carry a string
# group_id (Terraform: `"group_id":"wandering_aimlessly"`); "add group_id to the requests that
# now require it" - the list itself is not in any copy we could read.
GROUP_PARAM: Final = "group_id"
# ASSUMED: none requires it (the sync list takes it to narrow the scope). A request that does
# answers 4xx naming group_id, reported as one line (census_source/refusals.py). Publishing
# "the sync list requires it" is: GROUP_REQUIRED_ON = frozenset({SYNCS}).
GROUP_REQUIRED_ON: Final[frozenset[str]] = frozenset()
# Sent wherever the group is known (the sync's group_id): an API ignores a query parameter it
# does not take, and an endpoint that needs it then has it.
GROUP_SENT_ON: Final[frozenset[str]] = frozenset(ENDPOINTS)
# NOT PUBLISHED: a v2 endpoint that lists the groups a personal access token can see. Fivetran's
# own REST API has GET https://api.fivetran.com/v1/groups, but with a Fivetran API key, not the
# Activations token; the dashboard shows it as the destination's "Destination Group ID".
GROUP_LOOKUP_HINT: Final = (
    "it is the Destination Group ID on the destination's page in Fivetran, or the group_id of "
    "any v2 object (Census publishes no v2 request that lists a token's groups)"
)

# ASSUMED: sync and run ids may be strings, numeric or not. Published: activation ids became
# strings ("glimmering_donkey", the guide); Terraform's v2 source ids are still integers. So a
# new v2 dataset stores ids as text; a dataset first loaded by v1 keeps bigint (ids.py).
NUMERIC_IDS: Final = False
NEW_DATASET_ID_TYPE: Final = "text"
