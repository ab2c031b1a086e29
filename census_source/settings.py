"""Constants of the Census API and of this source's defaults."""

from datetime import date
from typing import Final

REGION_BASE_URLS: Final[dict[str, str]] = {
    "us": "https://app.getcensus.com/api/v1",
    "eu": "https://app-eu.getcensus.com/api/v1",
}
API_VERSIONS: Final = ("v1", "v2")
DEFAULT_API_VERSION: Final = "v1"
# Census retires API v1 on this day; runs on v1 from V1_WARN_FROM on carry a warning.
V1_RETIRED_ON: Final = date(2027, 1, 15)
V1_WARN_FROM: Final = date(2026, 12, 15)

# The API caps per_page at 100; fewer pages means fewer requests.
PAGE_SIZE: Final = 100

# Statuses after which a run no longer changes. Evidence: the newest fetch-sync-run doc lists
# working, completed, failed, skipped ("an earlier instance was still running") and queued;
# airflow-provider-census 2.1.0 stops waiting on completed and failed only (it never sees a
# skipped run it triggered). Anything else (queued, working, statuses nobody documented) is
# open and re-read on the next run; `current_step` is set only while a run works.
TERMINAL_STATUSES: Final = frozenset({"completed", "failed", "skipped"})

# Runs whose created_at lies this close below the high-water mark are re-checked each run,
# so a run committed late with an older timestamp is not missed.
DEFAULT_OVERLAP_SECONDS: Final = 60.0

# A terminal run without completed_at (failed runs often keep it null for good) is re-read
# for this long after creation, then considered final, so the open set stays bounded.
DEFAULT_SETTLE_HOURS: Final = 24.0

# Census keeps the record-level detail of a run (GET /sync_runs/{id}/records) about 14 days.
DEFAULT_RECORDS_RETENTION_DAYS: Final = 14.0
# Record statuses worth loading, and the run counts that say a run has such records.
RECORD_STATUS_COUNTS: Final[dict[str, tuple[str, ...]]] = {
    "rejected": ("records_failed",),
    "invalid": ("records_invalid", "source_record_invalids"),
}
# Runs whose records may be fetched: the run is over (open runs still gain records).
RECORDS_READY_STATUSES: Final = frozenset({"completed", "failed"})

SECRET_CONFIG_KEY: Final = "sources.census.api_key"
SECRET_ENV_VAR: Final = "SOURCES__CENSUS__API_KEY"

# Syncs read at once, and the client-side request ceiling shared by all of them. Census does
# not publish a rate limit; 429 + Retry-After is honoured on top of this ceiling.
DEFAULT_CONCURRENCY: Final = 8
MAX_CONCURRENCY: Final = 64
DEFAULT_RATE_LIMIT: Final = 100.0
