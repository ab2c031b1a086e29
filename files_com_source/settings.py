"""Constants of the Files.com API and of this source's defaults."""

from typing import Final

SITE_API_URL: Final = "https://{subdomain}.files.com/api/rest/v1"
RUNS_PATH: Final = "/sync_runs"

API_KEY_HEADER: Final = "X-FilesAPI-Key"
# Selects the Workspace a request operates on (the SDK sends it when workspace_id is set).
WORKSPACE_HEADER: Final = "X-Files-Workspace-Id"
# A site locked to a region answers 403 of this type, naming its host in data.host or here.
REGION_MISMATCH_TYPE: Final = "not-authenticated/lockout-region-mismatch"
REGION_HOST_HEADER: Final = "X-Files-Host"
# The documented next-page header; older SDK iterators read X-Files-Cursor, which the API
# still sends with the same value, so it is the fallback.
CURSOR_HEADER: Final = "X-Files-Cursor-Next"
LEGACY_CURSOR_HEADER: Final = "X-Files-Cursor"
CURSOR_PARAM: Final = "cursor"

# The API caps per_page at 10,000 and recommends 1,000 or less: a page of 1,000 runs answers
# well inside dlt's 60 s request timeout.
MAX_PER_PAGE: Final = 10_000
DEFAULT_PER_PAGE: Final = 1_000

# Documented statuses after which a run no longer changes. in_progress and any status the
# docs do not list count as open and are re-read on the next load.
TERMINAL_STATUSES: Final = frozenset({"success", "failure", "partial_failure", "skipped"})

# Runs created this close below the newest loaded run are re-listed on each load, so a run
# committed a little late, or sharing the newest run's second, is not missed.
DEFAULT_OVERLAP_SECONDS: Final = 60.0

# Open runs created at most this long before the newest loaded run are re-read by the list
# request (its filter starts below them); older open runs are fetched one by one by id, so
# one stuck run does not make every load re-list weeks of history.
DEFAULT_OPEN_LOOKBACK_HOURS: Final = 24.0

CONFIG_SECTION: Final = "sources.files_com"
SECRET_CONFIG_KEY: Final = "sources.files_com.api_key"
SECRET_ENV_VAR: Final = "SOURCES__FILES_COM__API_KEY"
