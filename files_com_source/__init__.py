"""dlt source for the sync-run history of a Files.com site.

`files_com_source(...)` yields one resource, `sync_runs` (merge on id), read from
`GET /api/rest/v1/sync_runs` with cursor paging. Each run's `event_errors` and `live_transfers`
land in the child tables `sync_runs__event_errors` and `sync_runs__live_transfers`. Loads are
incremental on created_at with a look-back that re-reads runs still open; a start_date/end_date
window backfills without moving the cursor.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from files_com_source.client import FilesComApi
from files_com_source.config import (
    parse_window,
    resolve_base_url,
    validate_api_key,
    validate_tuning,
    validate_workspace_id,
)
from files_com_source.cursor import RunCursor
from files_com_source.errors import (
    FilesComAuthError,
    FilesComConfigError,
    FilesComRegionError,
    FilesComResponseError,
    FilesComSourceError,
    FilesComUnreachableError,
)
from files_com_source.reader import IncrementalReader, read_window
from files_com_source.rows import SOURCE, RunRows
from files_com_source.settings import (
    DEFAULT_OPEN_LOOKBACK_HOURS,
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_PER_PAGE,
)
from files_com_source.tables import EVENT_ERROR_HINTS, LIVE_TRANSFER_COLUMNS, RUN_COLUMNS
from syncruns_common.contract import Notice, record_notice
from syncruns_common.schema import without_timestamp_detection

__all__ = [
    "FilesComAuthError",
    "FilesComConfigError",
    "FilesComRegionError",
    "FilesComResponseError",
    "FilesComSourceError",
    "FilesComUnreachableError",
    "files_com_source",
]

CURSOR_STATE_KEY = "cursor"


@dlt.source(name="files_com", section="files_com")
def files_com_source(
    api_key: TSecretStrValue = dlt.secrets.value,
    subdomain: str | None = dlt.config.value,
    base_url: str | None = None,
    start_date: datetime | date | str | None = None,
    end_date: datetime | date | str | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    open_lookback_hours: float = DEFAULT_OPEN_LOOKBACK_HOURS,
    workspace_id: int | None = None,
) -> Sequence[DltResource]:
    """The sync runs of a Files.com site.

    Args:
        api_key: Files.com API key (`sources.files_com.api_key` / `SOURCES__FILES_COM__API_KEY`).
        subdomain: The site's subdomain: `acme` for https://acme.files.com.
        base_url: API root overriding the subdomain (custom domain, proxy, the simulator),
            ending in /api/rest/v1; http only on loopback.
        start_date: Backfill window start on a run's created_at (inclusive; naive means UTC).
        end_date: Backfill window end (exclusive). A windowed load leaves the cursor untouched.
        per_page: Runs per request, 1 to 10,000 (default 1,000, as the API recommends).
        overlap_seconds: How far below the newest loaded run each load lists again (>= 1).
        open_lookback_hours: Open runs created up to this long before the newest loaded run are
            re-read by the list request; older open runs are fetched one by one.
        workspace_id: Sent as X-Files-Workspace-Id: only that Workspace's runs (0 = Default).
            None (default) sends no header: the runs the key sees.
    """
    key = validate_api_key(api_key)
    root = resolve_base_url(subdomain, base_url)
    window = parse_window(start_date, end_date, datetime.now(UTC))
    validate_tuning(per_page, overlap_seconds, open_lookback_hours)
    validate_workspace_id(workspace_id)
    api = FilesComApi(root, key, per_page, workspace_id)
    overlap = timedelta(seconds=overlap_seconds)
    open_lookback = timedelta(hours=open_lookback_hours)

    @dlt.resource(
        name="sync_runs",
        write_disposition="merge",
        primary_key="id",
        columns=RUN_COLUMNS,
        nested_hints={
            "event_errors": {"columns": EVENT_ERROR_HINTS},
            "live_transfers": {"columns": LIVE_TRANSFER_COLUMNS},
        },
        file_format="parquet",
    )
    def sync_runs() -> Iterator[list[dict[str, Any]]]:
        """New and still-open runs since the last load, or the runs of one window."""
        metrics = dlt.current.resource_metrics()
        rows = RunRows(metrics)
        if window is not None:
            yield from map(rows.guard, read_window(api, window))
            return
        state = dlt.current.resource_state()
        cursor = RunCursor.from_state(state.get(CURSOR_STATE_KEY, {}))
        reader = IncrementalReader(api, cursor, overlap, open_lookback)
        for item in reader.read():
            if isinstance(item, Notice):
                record_notice(metrics, item, SOURCE)
            else:
                yield rows.guard(item)
        if reader.next_cursor is not None:
            state[CURSOR_STATE_KEY] = reader.next_cursor.to_state()

    without_timestamp_detection(dlt.current.source_schema())
    return (sync_runs,)
