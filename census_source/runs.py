"""The body of the `sync_runs` resource: read every sync concurrently, yield typed pages."""

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa
from dlt.common import logger

from census_source.arrow_pages import reasons_table, runs_table
from census_source.backfill import BackfillProgress
from census_source.client import CensusApi
from census_source.config import Window
from census_source.cursor import SyncCursor
from census_source.errors import CensusAuthError, CensusNotFoundError, CensusSourceError
from census_source.fanout import Failed, Finished, Page, read_concurrently
from census_source.reader import SyncRunReader, read_window
from census_source.tables import REASON_COLUMNS, REASONS_TABLE

# Custom metrics of the sync_runs resource (in dlt's extract trace): syncs that failed after every
# retry, with the error, and syncs deleted while loading. Their cursors do not move.
FAILED_SYNCS = "failed_syncs"
DELETED_SYNCS = "deleted_syncs"
# With backfill_batch_syncs: syncs of the window still to load after this load (0 = done).
BACKFILL_REMAINING = "backfill_remaining"

# dlt does schema work per yielded item (~3 ms): yield few large tables, not one per page.
BATCH_ROWS = 5_000

REASON_HINTS = dlt.mark.make_hints(
    table_name=REASONS_TABLE,
    write_disposition="merge",
    primary_key="sync_run_id",
    columns=REASON_COLUMNS,
)


@dataclass(frozen=True)
class RunOptions:
    """How to read runs: a backfill window or incremental, and the reader's tuning."""

    window: Window | None
    overlap: timedelta
    settle: timedelta
    concurrency: int
    backfill_batch_syncs: int = 0


def sync_run_tables(
    api: CensusApi, syncs: Sequence[Mapping[str, Any]], options: RunOptions
) -> Iterator[Any]:
    """Yield `sync_runs` and trigger-reason Arrow tables; commit each sync's cursor when done."""
    resource_state = dlt.current.resource_state()
    state: dict[str, Any] = resource_state.setdefault("syncs", {})
    sync_ids = [str(sync["id"]) for sync in syncs]
    metrics = dlt.current.resource_metrics()
    progress = None
    if options.window is not None and options.backfill_batch_syncs:
        progress = BackfillProgress(resource_state, options.window)
        pending = progress.pending(sync_ids)
        sync_ids = pending[: options.backfill_batch_syncs]
        metrics[BACKFILL_REMAINING] = len(pending)
    cursors = {sid: SyncCursor.from_state(state[sid]) for sid in sync_ids if sid in state}
    settle_before = datetime.now(UTC) - options.settle

    def job(sync_id: str) -> Generator[list[dict[str, Any]], None, SyncCursor | None]:
        if options.window is not None:
            yield from read_window(api, sync_id, options.window)
            return None
        reader = SyncRunReader(api, sync_id, cursors.get(sync_id), options.overlap, settle_before)
        yield from reader.read()
        return reader.next_cursor

    load_id = str(dlt.current.load_package_state()["load_id"])
    schema = dlt.current.source_schema()

    def known(table: str) -> Any:
        def column_type(name: str) -> str | None:
            columns = schema.tables.get(table, {}).get("columns", {})
            column = columns.get(schema.naming.normalize_identifier(name), {})
            return column.get("data_type")

        return column_type

    failed: dict[str, str] = metrics.setdefault(FAILED_SYNCS, {})
    deleted: list[str] = metrics.setdefault(DELETED_SYNCS, [])
    errors: list[BaseException] = []
    buffered: list[dict[str, Any]] = []

    def flush() -> Iterator[Any]:
        if buffered:
            yield runs_table(buffered, load_id, known("sync_runs"))
            reasons: pa.Table = reasons_table(buffered, load_id, known(REASONS_TABLE))
            yield dlt.mark.with_hints(reasons, REASON_HINTS, create_table_variant=True)
            buffered.clear()

    for item in read_concurrently(sync_ids, job, options.concurrency):
        if isinstance(item, Page):
            buffered.extend(item.runs)
            if len(buffered) >= BATCH_ROWS:
                yield from flush()
        elif isinstance(item, Finished):
            if item.result is not None:
                state[item.sync_id] = item.result.to_state()
            elif progress is not None:
                progress.mark_done(item.sync_id)
                metrics[BACKFILL_REMAINING] -= 1
        elif isinstance(item, Failed):
            _record_failure(item, failed, deleted, errors)
    yield from flush()
    if progress is not None and metrics[BACKFILL_REMAINING] == 0:
        progress.finish()
    if errors and len(errors) == len(sync_ids):
        raise errors[0]  # not one sync could be read: an outage, not a partial load


def _record_failure(
    item: Failed, failed: dict[str, str], deleted: list[str], errors: list[BaseException]
) -> None:
    """A deleted sync is a warning; auth errors abort; other errors fail this sync only."""
    if isinstance(item.error, CensusNotFoundError):
        logger.warning(f"Sync {item.sync_id} answered 404 (deleted while loading); skipped")
        deleted.append(item.sync_id)
        return
    if isinstance(item.error, CensusAuthError) or not isinstance(item.error, CensusSourceError):
        raise item.error
    logger.warning(f"Sync {item.sync_id} failed and keeps its cursor: {item.error}")
    failed[item.sync_id] = str(item.error)
    errors.append(item.error)
