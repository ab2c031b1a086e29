"""The body of the `sync_runs` resource: read every sync concurrently, commit cursors per sync."""

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt

from hightouch_source.client import HightouchApi
from hightouch_source.cursor import SyncCursor
from hightouch_source.errors import (
    HightouchAuthError,
    HightouchNotFoundError,
    HightouchSourceError,
)
from hightouch_source.reader import Row, SyncRunReader, read_window
from hightouch_source.tables import RUN_COLUMNS
from syncruns_common.contract import CONTRACT_NOTICES as CONTRACT_NOTICES
from syncruns_common.contract import Notice, record_notice
from syncruns_common.failures import DELETED_SYNCS as DELETED_SYNCS
from syncruns_common.failures import FAILED_SYNCS as FAILED_SYNCS
from syncruns_common.failures import SyncFailures
from syncruns_common.fanout import Failed, Finished, Page, read_concurrently
from syncruns_common.progress import runs_read
from syncruns_common.row_guard import RowGuard, kinds_of
from syncruns_common.verbatim import VerbatimTally
from syncruns_common.window import Window


@dataclass(frozen=True)
class RunOptions:
    """How to read runs: a backfill window or incremental, and the reader's tuning."""

    window: Window | None
    overlap: timedelta
    settle: timedelta
    concurrency: int


def sync_run_rows(
    api: HightouchApi, syncs: Sequence[Mapping[str, Any]], options: RunOptions
) -> Iterator[list[Row]]:
    """Yield `sync_runs` rows per page; store each sync's cursor once it was read to the end.

    A sync's job may also yield a `Notice` (a broken promise of the API, worked around): it is
    logged once and kept in the `contract_notices` metric.
    """
    state: dict[str, Any] = dlt.current.resource_state().setdefault("syncs", {})
    sync_ids = [str(sync["id"]) for sync in syncs]
    cursors = {sid: SyncCursor.from_state(state[sid]) for sid in sync_ids if sid in state}
    settle_before = datetime.now(UTC) - options.settle

    def job(sync_id: str) -> Generator[list[Row] | Notice, None, SyncCursor | None]:
        if options.window is not None:
            yield from read_window(api, sync_id, options.window)
            return None
        reader = SyncRunReader(api, sync_id, cursors.get(sync_id), options.overlap, settle_before)
        yield from reader.read()
        return reader.next_cursor

    metrics = dlt.current.resource_metrics()
    guard = RowGuard("sync_runs", kinds_of(RUN_COLUMNS), VerbatimTally(metrics, "hightouch"))
    failures = SyncFailures(
        metrics,
        HightouchNotFoundError,
        HightouchAuthError,
        HightouchSourceError,
    )
    for item in read_concurrently(sync_ids, job, options.concurrency, "hightouch-sync-reader"):
        if isinstance(item, Page) and isinstance(item.batch, Notice):
            record_notice(metrics, item.batch, "hightouch")
        elif isinstance(item, Page):
            runs_read(len(item.batch))
            yield guard.guard(item.batch)
        elif isinstance(item, Finished):
            if item.result is not None:
                state[item.sync_id] = item.result.to_state()
        elif isinstance(item, Failed):
            failures.record(item)
    failures.raise_if_all_failed(len(sync_ids))
