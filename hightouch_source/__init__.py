"""dlt source for the sync-run history of Hightouch syncs.

`hightouch_source(...)` yields two resources: `syncs` (merge on id) and `sync_runs` (merge on id,
a `sync_id` column on every run), incremental per sync on the run's start time with a cursor for
each sync in resource state, read concurrently under Hightouch's rate limit.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from hightouch_source.client import HightouchApi
from hightouch_source.config import (
    normalize_sync_ids,
    parse_window,
    resolve_base_url,
    validate_api_key,
    validate_range,
)
from hightouch_source.errors import (
    HightouchAuthError,
    HightouchConfigError,
    HightouchResponseError,
    HightouchSourceError,
    HightouchUnreachableError,
)
from hightouch_source.ratelimit import SlidingWindowLimiter
from hightouch_source.runs import (
    CONTRACT_NOTICES,
    DELETED_SYNCS,
    FAILED_SYNCS,
    RunOptions,
    sync_run_rows,
)
from hightouch_source.settings import (
    CONFIG_SECTION,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_WINDOW_SECONDS,
    DEFAULT_SETTLE_HOURS,
    MAX_CONCURRENCY,
    PAGE_SIZE,
    RATE_WINDOW_MARGIN,
    RATE_WINDOW_MIN_MARGIN_SECONDS,
)
from hightouch_source.tables import RUN_COLUMNS, SYNC_COLUMNS
from syncruns_common.row_guard import RowGuard, kinds_of
from syncruns_common.schema import without_timestamp_detection
from syncruns_common.verbatim import VerbatimTally

__all__ = [
    "CONTRACT_NOTICES",
    "DELETED_SYNCS",
    "FAILED_SYNCS",
    "HightouchAuthError",
    "HightouchConfigError",
    "HightouchResponseError",
    "HightouchSourceError",
    "HightouchUnreachableError",
    "hightouch_source",
]


@dlt.source(name="hightouch", section="hightouch")
def hightouch_source(
    api_key: TSecretStrValue = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    start_date: datetime | date | str | None = None,
    end_date: datetime | date | str | None = None,
    sync_ids: Sequence[int | str] | None = None,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    settle_hours: float = DEFAULT_SETTLE_HOURS,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    rate_limit_window_seconds: float = DEFAULT_RATE_WINDOW_SECONDS,
    page_size: int = PAGE_SIZE,
    adaptive_concurrency: bool = True,
) -> Sequence[DltResource]:
    """Hightouch syncs and their run history.

    Args:
        api_key: Hightouch workspace API key (`sources.hightouch.api_key` /
            `SOURCES__HIGHTOUCH__API_KEY`), sent only as a Bearer header.
        base_url: API root (a proxy, the simulator); http only on loopback.
        start_date: Backfill window start on a run's startedAt (inclusive; naive means UTC).
        end_date: Backfill window end (exclusive). A windowed load leaves the cursors untouched.
        sync_ids: Only these syncs (default: every sync in the workspace).
        overlap_seconds: How far below a sync's newest loaded start to look for late runs.
        settle_hours: How long an `aborted` run (a status the vendor's clients do not take as
            final) is still re-read, counted from its start.
        concurrency: How many syncs are read at once (1-64).
        rate_limit: Requests at most per `rate_limit_window_seconds`, across all workers and
            retries (0 = no limit). Hightouch allows 200 per 10 s.
        rate_limit_window_seconds: The window of `rate_limit`.
        page_size: Items per list request (1-100).
        adaptive_concurrency: Adapt requests in flight and their rate to the API's answers
            (AIMD: grow while answers stay fast, back off on 429/503 and honour Retry-After),
            never above `concurrency` and `rate_limit`; false keeps `concurrency` fixed.
    """
    token = validate_api_key(api_key)
    root = resolve_base_url(base_url)
    window = parse_window(start_date, end_date, datetime.now(UTC))
    selected = normalize_sync_ids(sync_ids)
    validate_range("overlap_seconds", overlap_seconds, 0)
    validate_range("settle_hours", settle_hours, 0)
    validate_range("concurrency", concurrency, 1, MAX_CONCURRENCY)
    validate_range("rate_limit", rate_limit, 0)
    validate_range("rate_limit_window_seconds", rate_limit_window_seconds, 0.001)
    validate_range("page_size", page_size, 1, 100)
    margin = max(rate_limit_window_seconds * RATE_WINDOW_MARGIN, RATE_WINDOW_MIN_MARGIN_SECONDS)
    limiter = SlidingWindowLimiter(int(rate_limit) or None, rate_limit_window_seconds + margin)
    ceiling = int(concurrency) if adaptive_concurrency else None
    api = HightouchApi(root, token, limiter, int(page_size), ceiling)
    options = RunOptions(
        window=window,
        overlap=timedelta(seconds=overlap_seconds),
        settle=timedelta(hours=settle_hours),
        concurrency=int(concurrency),
    )

    @dlt.resource(
        name="syncs",
        write_disposition="merge",
        primary_key="id",
        columns=SYNC_COLUMNS,
        file_format="parquet",
    )
    def syncs() -> Iterator[list[dict[str, Any]]]:
        """Every sync (or the selected ones), as one list so their runs are read concurrently."""
        tally = VerbatimTally(dlt.current.resource_metrics(), "hightouch")
        yield RowGuard("syncs", kinds_of(SYNC_COLUMNS), tally).guard(
            list(_selected_syncs(api, selected))
        )

    @dlt.transformer(
        data_from=syncs,
        name="sync_runs",
        write_disposition="merge",
        primary_key="id",
        columns=RUN_COLUMNS,
        file_format="parquet",
    )
    def sync_runs(all_syncs: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """New and still-open runs of each sync (or a window's runs)."""
        yield from sync_run_rows(api, all_syncs, options)

    without_timestamp_detection(dlt.current.source_schema())
    return syncs, sync_runs


def _selected_syncs(
    api: HightouchApi, selected: tuple[str, ...] | None
) -> Iterator[dict[str, Any]]:
    """The workspace's syncs (ids as integers), or the selected ones; unknown ids are an error."""
    missing = set(selected or ())
    for page in api.sync_pages():
        for sync in page:
            raw = str(sync.get("id", "")).strip()
            if not raw.isdigit():
                raise HightouchResponseError(
                    f"GET /api/v1/syncs listed a sync whose id {sync.get('id')!r} is not numeric"
                )
            sync_id = str(int(raw))
            if selected is None or sync_id in selected:
                missing.discard(sync_id)
                yield {**sync, "id": int(sync_id)}
    if missing:
        names = ", ".join(sorted(missing, key=int))
        raise HightouchConfigError(
            f"sync id(s) {names} not found in the Hightouch workspace: "
            f"fix {CONFIG_SECTION}.sync_ids"
        )
