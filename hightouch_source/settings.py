"""Constants of the Hightouch API and of this source's defaults."""

from typing import Final

DEFAULT_BASE_URL: Final = "https://api.hightouch.com"
API_PREFIX: Final = "/api/v1"

# Runs and syncs per list request. The docs give defaults (5 runs, 100 syncs) but no maximum;
# 100 is assumed to be accepted. Paging advances by the items actually received, so a server
# that serves fewer per page is still read completely.
PAGE_SIZE: Final = 100

# Run statuses, as the vendor's own clients read them (airflow-provider-hightouch 5.0.0
# consts.py, dagster-hightouch 0.29.27 resources.py; both poll a run until it is terminal):
# - open: both clients' PENDING_STATUSES, `pending` included. A run in one can still change.
OPEN_STATUSES: Final = frozenset({"pending", "queued", "querying", "processing", "reporting"})
# - final: both clients' TERMINAL_STATUSES.
TERMINAL_STATUSES: Final = frozenset({"success", "warning", "failed", "cancelled", "interrupted"})
# - `aborted`: the Airflow provider defines ABORTED but puts it in neither list, so both clients
#   keep polling a run in it (with an "Unexpected status" warning): it is not known to be final.
#   It counts as open while the run started less than `settle_hours` ago (it may still move on),
#   then settles: if it is final, as the name says, re-reading it would cost a request per load
#   forever.
SETTLING_STATUSES: Final = frozenset({"aborted"})
DEFAULT_SETTLE_HOURS: Final = 24.0
# - any other status (neither client knows it) counts as open until it reaches one of the above.

# Runs that started this close below a sync's newest loaded start are re-checked on each load,
# so a run committed late with an earlier startedAt is not missed.
DEFAULT_OVERLAP_SECONDS: Final = 60.0
# `after`/`before` are sent this much wider than the wanted instant and the edge is filtered
# here, so it does not matter whether the API compares strictly, inclusively or in seconds.
FILTER_SLACK_SECONDS: Final = 1.0

# Hightouch's published rate limit: 200 requests per 10 seconds per workspace. The client widens
# its window by a margin (5 %, at least 0.2 s) so delays between sending and the server's count
# never make the server see 201.
DEFAULT_RATE_LIMIT: Final = 200
DEFAULT_RATE_WINDOW_SECONDS: Final = 10.0
RATE_WINDOW_MARGIN: Final = 0.05
RATE_WINDOW_MIN_MARGIN_SECONDS: Final = 0.2

DEFAULT_CONCURRENCY: Final = 8
MAX_CONCURRENCY: Final = 64

CONFIG_SECTION: Final = "sources.hightouch"
SECRET_CONFIG_KEY: Final = "sources.hightouch.api_key"
SECRET_ENV_VAR: Final = "SOURCES__HIGHTOUCH__API_KEY"
