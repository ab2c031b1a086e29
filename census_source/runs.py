"""The body of the `sync_runs` resource: read every sync concurrently, yield typed pages."""

from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa
from dlt.common import logger

from census_source.arrow_pages import KnownTypes, reasons_table, runs_table
from census_source.backfill import BackfillProgress
from census_source.client import CensusApi
from census_source.cursor import SyncCursor
from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusNotFoundError,
    CensusResponseError,
    CensusSourceError,
)
from census_source.ids import (
    CURSORS_API_VERSION,
    IdCodec,
    cursors_api_version,
    dataset_id_type,
    id_codec,
    renumbered_syncs,
)
from census_source.reader import SyncRunReader, read_window
from census_source.records import (
    RECORD_COLUMNS,
    RECORD_KINDS,
    RECORDS_TABLE,
    RecordsLedger,
    RunRecords,
    fetch_run_records,
    wanted_statuses,
)
from census_source.tables import REASON_COLUMNS, REASONS_TABLE
from census_source.versions import V1, ApiVersion, IdType, retirement_notice
from syncruns_common.contract import Notice, record_notice
from syncruns_common.failures import DELETED_SYNCS as DELETED_SYNCS
from syncruns_common.failures import FAILED_SYNCS as FAILED_SYNCS
from syncruns_common.failures import SyncFailures
from syncruns_common.fanout import Failed, Finished, Page, read_concurrently
from syncruns_common.progress import runs_read
from syncruns_common.row_guard import RowGuard
from syncruns_common.verbatim import VerbatimTally
from syncruns_common.window import Window

# Custom metrics of the sync_runs resource (in dlt's extract trace), besides FAILED_SYNCS and
# DELETED_SYNCS (syncs failed after every retry, syncs deleted while loading).
# With backfill_batch_syncs: syncs of the window still to load after this load (0 = done).
BACKFILL_REMAINING = "backfill_remaining"
# With include_records: runs whose records were loaded, and runs skipped as past retention.
RECORDS_RUNS = "records_runs"
RECORDS_EXPIRED = "records_expired_runs"
# The API version used, and a warning when it is about to be (or was) retired.
API_VERSION = "api_version"
API_WARNING = "api_warning"

# dlt does schema work per yielded item (~3 ms): yield few large tables, not one per page.
BATCH_ROWS = 5_000

REASON_HINTS = dlt.mark.make_hints(
    table_name=REASONS_TABLE,
    write_disposition="merge",
    primary_key="sync_run_id",
    columns=REASON_COLUMNS,
)
RECORD_HINTS = dlt.mark.make_hints(
    table_name=RECORDS_TABLE,
    write_disposition="merge",
    primary_key=["sync_run_id", "record_key"],
    columns=RECORD_COLUMNS,
    file_format="parquet",
)


@dataclass(frozen=True)
class RunOptions:
    """How to read runs: a backfill window or incremental, and the reader's tuning."""

    window: Window | None
    overlap: timedelta
    settle: timedelta
    concurrency: int
    backfill_batch_syncs: int = 0
    version: ApiVersion = V1
    include_records: bool = False
    records_retention: timedelta = timedelta(days=14)


def sync_run_tables(
    api: CensusApi, syncs: Sequence[Mapping[str, Any]], options: RunOptions
) -> Iterator[Any]:
    """Yield `sync_runs`, trigger-reason and record tables; commit each sync's cursor when done."""
    resource_state = dlt.current.resource_state()
    state: dict[str, Any] = resource_state.setdefault("syncs", {})
    sync_ids = [str(sync["id"]) for sync in syncs]
    metrics = dlt.current.resource_metrics()
    now = datetime.now(UTC)
    metrics[API_VERSION] = options.version.name
    notice = retirement_notice(options.version, now.date())
    if notice:
        logger.warning(notice)
        metrics[API_WARNING] = notice
    progress = None
    if options.window is not None and options.backfill_batch_syncs:
        progress = BackfillProgress(resource_state, options.window)
        pending = progress.pending(sync_ids)
        sync_ids = pending[: options.backfill_batch_syncs]
        metrics[BACKFILL_REMAINING] = len(pending)
    cursors = {sid: SyncCursor.from_state(state[sid]) for sid in sync_ids if sid in state}
    settle_before = now - options.settle
    schema = dlt.current.source_schema()
    id_type = dataset_id_type(schema, options.version)
    codec = id_codec(id_type)
    _refuse_renumbered_syncs(resource_state, state, syncs, id_type, options.version)
    ledger = RecordsLedger(resource_state, options.records_retention)
    records_done: frozenset[str] = frozenset()
    if options.include_records:
        ledger.prune(now)
        records_done = ledger.snapshot()
        metrics[RECORDS_RUNS] = metrics[RECORDS_EXPIRED] = 0
    retained_after = now - options.records_retention

    def job(sync_id: str) -> Generator[Any, None, SyncCursor | None]:
        with_records: list[dict[str, Any]] = []  # only these: a long history stays unbuffered
        reader = None
        if options.window is not None:
            batches = read_window(api, sync_id, options.window)
        else:
            reader = SyncRunReader(
                api, sync_id, cursors.get(sync_id), options.overlap, settle_before
            )
            batches = reader.read()
        for batch in batches:
            if isinstance(batch, Notice):
                yield batch
                continue
            _canonical_ids(batch, sync_id, codec)
            yield batch
            if options.include_records:
                with_records.extend(run for run in batch if wanted_statuses(run))
        if with_records:
            yield from fetch_run_records(api, with_records, records_done, retained_after, codec)
        return None if reader is None else reader.next_cursor

    load_id = str(dlt.current.load_package_state()["load_id"])

    failures = SyncFailures(
        metrics, CensusNotFoundError, CensusAuthError, CensusSourceError, _runs_path_error
    )
    tally = VerbatimTally(metrics, "census")
    record_guard = RowGuard(RECORDS_TABLE, RECORD_KINDS, tally, id_key="sync_run_id")
    run_types, reason_types = KnownTypes(schema, "sync_runs"), KnownTypes(schema, REASONS_TABLE)
    buffered: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []

    def flush() -> Iterator[Any]:
        if buffered:
            yield runs_table(buffered, load_id, run_types, tally, id_type)
            reasons: pa.Table = reasons_table(buffered, load_id, reason_types, tally, id_type)
            yield dlt.mark.with_hints(reasons, REASON_HINTS, create_table_variant=True)
            buffered.clear()
        if records:
            rows = record_guard.guard(list(records))
            yield dlt.mark.with_hints(rows, RECORD_HINTS, create_table_variant=True)
            records.clear()

    for item in read_concurrently(sync_ids, job, options.concurrency, "census-sync-reader"):
        if isinstance(item, Page) and isinstance(item.batch, Notice):
            record_notice(metrics, item.batch, "census")
        elif isinstance(item, Page) and isinstance(item.batch, RunRecords):
            _take_records(item.batch, records, ledger, metrics)
            if len(records) >= BATCH_ROWS:
                yield from flush()
        elif isinstance(item, Page):
            runs_read(len(item.batch))
            buffered.extend(item.batch)
            if len(buffered) >= BATCH_ROWS:
                yield from flush()
        elif isinstance(item, Finished):
            if item.result is not None:
                state[item.sync_id] = item.result.to_state()
            elif progress is not None:
                progress.mark_done(item.sync_id)
                metrics[BACKFILL_REMAINING] -= 1
        elif isinstance(item, Failed):
            failures.record(item)
    yield from flush()
    if progress is not None and metrics[BACKFILL_REMAINING] == 0:
        progress.finish()
    failures.raise_if_all_failed(len(sync_ids))


def _refuse_renumbered_syncs(
    resource_state: dict[str, Any],
    state: Mapping[str, Any],
    syncs: Sequence[Mapping[str, Any]],
    id_type: IdType,
    version: ApiVersion,
) -> None:
    """Stop before anything is read when this API version renumbered the syncs (ids.py), else
    record which API version the cursors are now written by."""
    written_by = cursors_api_version(resource_state, id_type)
    listed = [str(sync["id"]) for sync in syncs]
    stop = renumbered_syncs(state.keys(), listed, written_by, version.name)
    if stop is not None:
        raise CensusConfigError(stop)
    resource_state[CURSORS_API_VERSION] = version.name


def _runs_path_error(syncs: int) -> CensusResponseError:
    return CensusResponseError(
        f"the runs of every sync listed ({syncs}) answered 404: the sync-runs endpoint is not "
        "at this path; on API v2 set sources.census.v2_paths.sync_runs (README 'Census API "
        "v2'), else check sources.census.base_url"
    )


def _canonical_ids(runs: list[dict[str, Any]], sync_id: str, codec: IdCodec) -> None:
    """Give each run the dataset's id type (and its sync's id when the API left it out)."""
    for run in runs:
        run["id"] = codec(run["id"])
        run["sync_id"] = codec(run.get("sync_id", sync_id))


def _take_records(
    fetched: RunRecords,
    records: list[dict[str, Any]],
    ledger: RecordsLedger,
    metrics: dict[str, Any],
) -> None:
    ledger.mark(fetched.run_id, fetched.finished_at)
    if fetched.expired:
        metrics[RECORDS_EXPIRED] += 1
        return
    metrics[RECORDS_RUNS] += 1
    records.extend(fetched.rows)
