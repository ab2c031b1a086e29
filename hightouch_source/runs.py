"""The body of the `sync_runs` resource: read every sync concurrently, commit cursors per sync."""

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dlt
from dlt.common import logger

from census_source.config import Window
from census_source.fanout import Failed, Finished, Page, read_concurrently
from hightouch_source.client import HightouchApi
from hightouch_source.cursor import SyncCursor
from hightouch_source.errors import (
    HightouchAuthError,
    HightouchNotFoundError,
    HightouchSourceError,
)
from hightouch_source.reader import Row, SyncRunReader, read_window

# Custom metrics of the sync_runs resource (in dlt's extract trace): syncs that failed after every
# retry, with the error, and syncs deleted while loading. Their cursors do not move.
FAILED_SYNCS = "failed_syncs"
DELETED_SYNCS = "deleted_syncs"


@dataclass(frozen=True)
class RunOptions:
    """How to read runs: a backfill window or incremental, and the reader's tuning."""

    window: Window | None
    overlap: timedelta
    concurrency: int


def sync_run_rows(
    api: HightouchApi, syncs: Sequence[Mapping[str, Any]], options: RunOptions
) -> Iterator[list[Row]]:
    """Yield `sync_runs` rows per page; store each sync's cursor once it was read to the end."""
    state: dict[str, Any] = dlt.current.resource_state().setdefault("syncs", {})
    sync_ids = [str(sync["id"]) for sync in syncs]
    cursors = {sid: SyncCursor.from_state(state[sid]) for sid in sync_ids if sid in state}

    def job(sync_id: str) -> Generator[list[Row], None, SyncCursor | None]:
        if options.window is not None:
            yield from read_window(api, sync_id, options.window)
            return None
        reader = SyncRunReader(api, sync_id, cursors.get(sync_id), options.overlap)
        yield from reader.read()
        return reader.next_cursor

    metrics = dlt.current.resource_metrics()
    failed: dict[str, str] = metrics.setdefault(FAILED_SYNCS, {})
    deleted: list[str] = metrics.setdefault(DELETED_SYNCS, [])
    errors: list[BaseException] = []
    for item in read_concurrently(sync_ids, job, options.concurrency):
        if isinstance(item, Page):
            yield item.batch
        elif isinstance(item, Finished):
            if item.result is not None:
                state[item.sync_id] = item.result.to_state()
        elif isinstance(item, Failed):
            _record_failure(item, failed, deleted, errors)
    if errors and len(errors) == len(sync_ids):
        raise errors[0]  # not one sync could be read: an outage, not a partial load


def _record_failure(
    item: Failed, failed: dict[str, str], deleted: list[str], errors: list[BaseException]
) -> None:
    """A deleted sync is a warning; auth errors abort; other errors fail this sync only."""
    if isinstance(item.error, HightouchNotFoundError):
        logger.warning(f"Sync {item.sync_id} answered 404 (deleted while loading); skipped")
        deleted.append(item.sync_id)
        return
    if isinstance(item.error, HightouchAuthError) or not isinstance(
        item.error, HightouchSourceError
    ):
        raise item.error
    logger.warning(f"Sync {item.sync_id} failed and keeps its cursor: {item.error}")
    failed[item.sync_id] = str(item.error)
    errors.append(item.error)
