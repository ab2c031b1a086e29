"""dlt source for the sync-run history of Census syncs.

`census_source(...)` yields two resources: `syncs` (merge on id, `mappings` in `syncs__mappings`)
and `sync_runs` (merge on id, `sync_trigger_reason` in `sync_runs__sync_trigger_reason`, and
with `include_records` the rejected/invalid records in `sync_run_records`), incremental per sync
with a cursor for each sync in resource state, read concurrently and loaded as typed Arrow pages.
Census API v1 and v2 are both spoken; a dataset moves from one to the other keeping its cursors.
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from census_source.client import CensusApi
from census_source.config import (
    normalize_sync_ids,
    parse_api_version,
    parse_window,
    resolve_base_url,
    validate_api_key,
    validate_group_ids,
    with_v2_paths,
)
from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusGroupError,
    CensusResponseError,
    CensusSourceError,
    CensusUnreachableError,
    CensusV1RetiredError,
)
from census_source.ids import dataset_id_type, id_codec
from census_source.runs import RunOptions, sync_run_tables
from census_source.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_CONCURRENCY,
    DEFAULT_OVERLAP_SECONDS,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RECORDS_RETENTION_DAYS,
    DEFAULT_SETTLE_HOURS,
    MAX_CONCURRENCY,
)
from census_source.tables import SYNC_COLUMNS, SYNC_KINDS
from census_source.versions import ApiVersion
from syncruns_common.partial import PartialLoadError, raise_on_partial_load
from syncruns_common.row_guard import RowGuard
from syncruns_common.verbatim import VerbatimTally

__all__ = [
    "CensusAuthError",
    "CensusConfigError",
    "CensusGroupError",
    "CensusResponseError",
    "CensusSourceError",
    "CensusUnreachableError",
    "CensusV1RetiredError",
    "PartialLoadError",
    "census_source",
    "raise_on_partial_load",
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
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit: float = DEFAULT_RATE_LIMIT,
    adaptive_concurrency: bool = True,
    backfill_batch_syncs: int = 0,
    api_version: str = DEFAULT_API_VERSION,
    group_id: str | None = None,
    include_records: bool = False,
    records_retention_days: float = DEFAULT_RECORDS_RETENTION_DAYS,
    group_ids: Sequence[str] | None = None,
    v2_paths: dict[str, str] | None = None,
) -> Sequence[DltResource]:
    """Census syncs and their run history.

    Args:
        api_key: v1: a workspace API token; v2: a personal access token
            (`sources.census.api_key` / `SOURCES__CENSUS__API_KEY`).
        base_url: API root overriding `region` (a proxy, the simulator); http only on loopback.
        region: `us` or `eu`; picks the host of either API version (v2: see v2_facts.py).
        start_date: Backfill window start on a run's created_at (inclusive; naive means UTC).
        end_date: Backfill window end (exclusive). A windowed load leaves the cursors untouched.
        sync_ids: Only these syncs (default: every sync in the workspace).
        overlap_seconds: How far below a sync's newest loaded run to look for late arrivals.
        settle_hours: How long a terminal run without completed_at is still re-read.
        concurrency: How many syncs are read at once.
        rate_limit: Requests per second at most, across all workers (0 = no limit).
        adaptive_concurrency: Adapt requests in flight and their rate to the API's answers
            (AIMD: grow while answers stay fast, back off on 429/503 and honour Retry-After),
            never above `concurrency` and `rate_limit`; false keeps `concurrency` fixed.
        backfill_batch_syncs: With a window, load at most this many syncs per load and record
            them as done (0 = all at once). Run again until the `backfill_remaining` custom
            metric of `sync_runs` is 0; a killed backfill resumes where it stopped.
        api_version: `v1` (workspace token; retired by Census on 2027-01-15) or `v2`.
        group_id: v2 only: load only this group (workspace); default every group the token sees.
            The CLI's repeated `--group-id` arrives here as a list.
        include_records: Also load the rejected and invalid records of finished runs into
            `sync_run_records`, once per run.
        records_retention_days: How long Census keeps record detail; older runs are skipped.
        group_ids: v2 only: load these groups into one dataset (rows carry `group_id`).
        v2_paths: v2 only: endpoint name -> path template, for an endpoint Census moved
            (e.g. `{"sync_runs": "/activation_syncs/{sync_id}/runs"}`; see README).
    """
    token = validate_api_key(api_key)
    version = parse_api_version(api_version)
    groups = validate_group_ids(group_ids, group_id, version)
    version = with_v2_paths(version, v2_paths, groups)
    root = resolve_base_url(region, base_url, version)
    now = datetime.now(UTC)
    window = parse_window(start_date, end_date, now)
    selected = normalize_sync_ids(sync_ids, numeric=version.numeric_ids)
    if overlap_seconds < 0 or settle_hours < 0:
        raise CensusConfigError(
            "sources.census.overlap_seconds and settle_hours must not be negative"
        )
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise CensusConfigError(
            f"sources.census.concurrency must be between 1 and {MAX_CONCURRENCY}, not {concurrency}"
        )
    if rate_limit < 0:
        raise CensusConfigError("sources.census.rate_limit must be >= 0 (0 = no limit)")
    if backfill_batch_syncs < 0:
        raise CensusConfigError("sources.census.backfill_batch_syncs must be >= 0 (0 = all)")
    if not records_retention_days > 0:
        raise CensusConfigError("sources.census.records_retention_days must be > 0")
    ceiling = concurrency if adaptive_concurrency else None
    api = CensusApi(root, token, rate_limit or None, version, groups, ceiling)
    options = RunOptions(
        window=window,
        overlap=timedelta(seconds=overlap_seconds),
        settle=timedelta(hours=settle_hours),
        concurrency=concurrency,
        backfill_batch_syncs=backfill_batch_syncs,
        version=version,
        include_records=bool(include_records),
        records_retention=timedelta(days=records_retention_days),
    )

    @dlt.resource(name="syncs", write_disposition="merge", primary_key="id", columns=SYNC_COLUMNS)
    def syncs() -> Iterator[list[dict[str, Any]]]:
        """Every sync (or the selected ones), as one list so their runs are read concurrently."""
        listed = [sync for page in _selected_syncs(api, selected) for sync in page]
        tally = VerbatimTally(dlt.current.resource_metrics(), "census")
        guard = RowGuard("syncs", SYNC_KINDS, tally, object_lists=frozenset({"mappings"}))
        yield guard.guard(_with_dataset_ids(listed, version))

    @dlt.transformer(
        data_from=syncs,
        name="sync_runs",
        write_disposition="merge",
        primary_key="id",
    )
    def sync_runs(all_syncs: list[dict[str, Any]]) -> Iterator[Any]:
        """New and still-open runs of each sync (or a window's runs), as Arrow pages."""
        yield from sync_run_tables(api, all_syncs, options)

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
        names = ", ".join(sorted(missing, key=lambda text: (len(text), text)))
        raise CensusConfigError(
            f"sync id(s) {names} not found in the Census workspace: fix sources.census.sync_ids"
        )


def _with_dataset_ids(syncs: list[dict[str, Any]], version: ApiVersion) -> list[dict[str, Any]]:
    """The syncs with ids of the dataset's id type (bigint or text, see ids.py)."""
    codec = id_codec(dataset_id_type(dlt.current.source_schema(), version))
    for sync in syncs:
        sync["id"] = codec(sync["id"])
    return syncs
