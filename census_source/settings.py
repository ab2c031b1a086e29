"""Constants of the Census API and of this source's defaults."""

from typing import Final

REGION_BASE_URLS: Final[dict[str, str]] = {
    "us": "https://app.getcensus.com/api/v1",
    "eu": "https://app-eu.getcensus.com/api/v1",
}

# The API caps per_page at 100; fewer pages means fewer requests.
PAGE_SIZE: Final = 100

# Statuses after which a run no longer changes. Anything else (queued, working, statuses the
# docs do not list) is treated as open and re-read on the next run.
TERMINAL_STATUSES: Final = frozenset({"completed", "failed", "skipped"})

# Runs whose created_at lies this close below the high-water mark are re-checked each run,
# so a run committed late with an older timestamp is not missed.
DEFAULT_OVERLAP_SECONDS: Final = 60.0

# A terminal run without completed_at (failed runs often keep it null for good) is re-read
# for this long after creation, then considered final, so the open set stays bounded.
DEFAULT_SETTLE_HOURS: Final = 24.0

SECRET_CONFIG_KEY: Final = "sources.census.api_key"
SECRET_ENV_VAR: Final = "SOURCES__CENSUS__API_KEY"

# Syncs read at once, and the client-side request ceiling shared by all of them. Census does
# not publish a rate limit; 429 + Retry-After is honoured on top of this ceiling.
DEFAULT_CONCURRENCY: Final = 8
MAX_CONCURRENCY: Final = 64
DEFAULT_RATE_LIMIT: Final = 100.0
