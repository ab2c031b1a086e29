"""dlt source for the sync-run history of Census syncs.

`census_source(...)` yields two resources: `syncs` (merge on id, `mappings` in `syncs__mappings`)
and `sync_runs` (merge on id, `sync_trigger_reason` in `sync_runs__sync_trigger_reason`),
incremental per sync with a cursor for each sync in resource state.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt
from dlt.common import logger
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from census_source.client import CensusApi
from census_source.config import (
    normalize_sync_ids,
    parse_window,
    resolve_base_url,
    validate_api_key,
)
from census_source.cursor import SyncCursor
from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusNotFoundError,
    CensusResponseError,
    CensusSourceError,
    CensusUnreachableError,
)
from census_source.reader import SyncRunReader, read_window
from census_source.settings import DEFAULT_OVERLAP_SECONDS, DEFAULT_SETTLE_HOURS
from census_source.tables import SYNC_COLUMNS, SYNC_RUN_COLUMNS, run_row

__all__ = [
    "CensusAuthError",
    "CensusConfigError",
    "CensusResponseError",
    "CensusSourceError",
    "CensusUnreachableError",
    "census_source",
]


@dlt.source(name="census", section="census")
def census_source(
    api_key: TSecretStrValue = dlt.secrets.value,
    base_url: str | None = None,
    region: str = "us",
    start_date: datetime | date | str | None = None,
    end_date: datetime | date | str | None = None,
    sync_ids: Sequence[int | str] | None = None,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    settle_hours: float = DEFAULT_SETTLE_HOURS,
) -> Sequence[DltResource]:
    """Census syncs and their run history.

    Args:
        api_key: Census workspace token (`sources.census.api_key` / `SOURCES__CENSUS__API_KEY`).
        base_url: API root overriding `region` (a proxy, the simulator); http only on loopback.
        region: `us` or `eu`.
        start_date: Backfill window start on a run's created_at (inclusive; naive means UTC).
        end_date: Backfill window end (exclusive). A windowed load leaves the cursors untouched.
        sync_ids: Only these syncs (default: every sync in the workspace).
        overlap_seconds: How far below a sync's newest loaded run to look for late arrivals.
        settle_hours: How long a terminal run without completed_at is still re-read.
    """
    token = validate_api_key(api_key)
    root = resolve_base_url(region, base_url)
    now = datetime.now(UTC)
    window = parse_window(start_date, end_date, now)
    selected = normalize_sync_ids(sync_ids)
    if overlap_seconds < 0 or settle_hours < 0:
        raise CensusConfigError(
            "sources.census.overlap_seconds and settle_hours must not be negative"
        )
    api = CensusApi(root, token)

    @dlt.resource(
        name="syncs",
        write_disposition="merge",
        primary_key="id",
        columns=SYNC_COLUMNS,
        file_format="parquet",
    )
    def syncs() -> Iterator[list[dict[str, Any]]]:
        """Every sync (or the selected ones), one list per API page."""
        yield from _selected_syncs(api, selected)

    @dlt.transformer(
        data_from=syncs,
        name="sync_runs",
        write_disposition="merge",
        primary_key="id",
        columns=SYNC_RUN_COLUMNS,
        file_format="parquet",
    )
    def sync_runs(sync_page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """New and still-open runs of each sync (or the window's runs), one list per request."""
        cursors: dict[str, Any] = dlt.current.resource_state().setdefault("syncs", {})
        for sync in sync_page:
            sync_id = str(sync["id"])
            try:
                if window is not None:
                    for batch in read_window(api, sync_id, window):
                        yield [run_row(run) for run in batch]
                    continue
                yield from _read_incremental(api, sync_id, cursors, overlap_seconds, settle_hours)
            except CensusNotFoundError:
                logger.warning(f"Sync {sync_id} answered 404 (deleted while loading); skipped")

    return syncs, sync_runs


def _selected_syncs(
    api: CensusApi, selected: tuple[str, ...] | None
) -> Iterator[list[dict[str, Any]]]:
    missing = set(selected or ())
    for page in api.sync_pages():
        if selected is not None:
            page = [sync for sync in page if str(sync["id"]) in selected]
            missing.difference_update(str(sync["id"]) for sync in page)
        if page:
            yield page
    if missing:
        names = ", ".join(sorted(missing, key=int))
        raise CensusConfigError(
            f"sync id(s) {names} not found in the Census workspace: fix sources.census.sync_ids"
        )


def _read_incremental(
    api: CensusApi,
    sync_id: str,
    cursors: dict[str, Any],
    overlap_seconds: float,
    settle_hours: float,
) -> Iterator[list[dict[str, Any]]]:
    stored = cursors.get(sync_id)
    reader = SyncRunReader(
        api,
        sync_id,
        SyncCursor.from_state(stored) if stored is not None else None,
        overlap=timedelta(seconds=overlap_seconds),
        settle_before=datetime.now(UTC) - timedelta(hours=settle_hours),
    )
    for batch in reader.read():
        yield [run_row(run) for run in batch]
    assert reader.next_cursor is not None
    cursors[sync_id] = reader.next_cursor.to_state()
