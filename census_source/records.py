"""Rejected and invalid records of finished runs (`GET /sync_runs/{id}/records`), fetched once.

A run is worth asking when it is over and its counts say it rejected (`records_failed`) or
skipped invalid (`records_invalid`) records. Census keeps this detail about 14 days: older runs
are skipped without a request, and a 410 answer counts the same way. Which runs were fetched is
kept in resource state (with the data of the same load), pruned once past retention.
"""

import hashlib
import json
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dlt.common.schema.typing import TTableSchemaColumns

from census_source.client import CensusApi
from census_source.errors import CensusGoneError, CensusNotFoundError
from census_source.ids import IdCodec
from census_source.settings import RECORD_STATUS_COUNTS, RECORDS_READY_STATUSES
from syncruns_common.row_guard import kinds_of
from syncruns_common.timestamps import format_timestamp, parse_timestamp
from syncruns_common.values import fit

RECORDS_TABLE = "sync_run_records"
RECORD_COLUMNS: TTableSchemaColumns = {
    "sync_run_id": {"nullable": False, "primary_key": True},
    "record_key": {"data_type": "text", "nullable": False, "primary_key": True},
    "sync_id": {"nullable": False},
    "status": {"data_type": "text", "nullable": True},
    "operation": {"data_type": "text", "nullable": True},
    "identifier": {"data_type": "text", "nullable": True},
    "status_message": {"data_type": "text", "nullable": True},
    "batch_started_at": {"data_type": "timestamp", "nullable": True},
    "batch_completed_at": {"data_type": "timestamp", "nullable": True},
    "record_payload": {"data_type": "json", "nullable": True},
}
_STATE_KEY = "records_fetched"
# what a record's own fields become (record_payload is JSON and takes any value)
RECORD_KINDS = kinds_of(RECORD_COLUMNS)
_OWN_COLUMNS = frozenset({"sync_run_id", "record_key", "sync_id"})


@dataclass(frozen=True)
class RunRecords:
    """The outcome of asking for one run's records: rows, or past retention (`expired`)."""

    run_id: str
    finished_at: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    expired: bool = False


def wanted_statuses(run: Mapping[str, Any]) -> list[str]:
    """The record statuses to ask for, given a run's counts ([] = nothing to fetch)."""
    if run.get("status") not in RECORDS_READY_STATUSES:
        return []
    return [
        status
        for status, counts in RECORD_STATUS_COUNTS.items()
        if any(_positive(run.get(name)) for name in counts)
    ]


def finished_at(run: Mapping[str, Any]) -> datetime:
    """When a run ended (created_at when completed_at is missing): what retention counts from."""
    for name in ("completed_at", "created_at"):
        try:
            return parse_timestamp(run[name])
        except (KeyError, TypeError, ValueError):
            continue
    raise ValueError("run without created_at")  # the reader refuses such runs before


class RecordsLedger:
    """Runs whose records were fetched (or found expired), kept in resource state.

    The state entry is created by the first `mark`, so loads without records leave no trace.
    """

    def __init__(self, resource_state: MutableMapping[str, Any], retention: timedelta) -> None:
        self._state = resource_state
        self.retention = retention

    def snapshot(self) -> frozenset[str]:
        """Run ids done so far (a copy that worker threads may read)."""
        return frozenset(self._state.get(_STATE_KEY, ()))

    def mark(self, run_id: str, finished: datetime) -> None:
        """Record that run's records as fetched (committed with this load's data)."""
        self._state.setdefault(_STATE_KEY, {})[run_id] = format_timestamp(finished)

    def prune(self, now: datetime) -> None:
        """Forget runs past retention (with a day to spare): they are never asked again."""
        done: dict[str, str] = self._state.get(_STATE_KEY, {})
        horizon = now - self.retention - timedelta(days=1)
        for run_id in [key for key, when in done.items() if parse_timestamp(when) < horizon]:
            del done[run_id]


def fetch_run_records(
    api: CensusApi,
    runs: Sequence[Mapping[str, Any]],
    done: frozenset[str],
    retained_after: datetime,
    codec: IdCodec,
) -> Iterator[RunRecords]:
    """The records of each finished run with rejects or invalids not fetched before."""
    for run in runs:
        run_id = str(run["id"])
        statuses = wanted_statuses(run)
        if not statuses or run_id in done:
            continue
        finished = finished_at(run)
        if finished < retained_after:
            yield RunRecords(run_id, finished, expired=True)
            continue
        try:
            raw = [
                record
                for status in statuses
                for page in api.record_pages(run_id, status)
                for record in page
            ]
        except CensusGoneError:
            yield RunRecords(run_id, finished, expired=True)
            continue
        except CensusNotFoundError:
            yield RunRecords(run_id, finished)  # the run is gone: nothing to keep
            continue
        yield RunRecords(run_id, finished, record_rows(run, raw, codec))


def record_rows(
    run: Mapping[str, Any], records: Sequence[Mapping[str, Any]], codec: IdCodec
) -> list[dict[str, Any]]:
    """Rows of `sync_run_records`: each record keyed by its content, repeats numbered.

    Records have no id; a content key is stable whatever order the API lists them in, and a
    record listed twice (status DUPLICATE) keeps both rows.
    """
    run_id, sync_id = codec(run["id"]), codec(run["sync_id"])
    seen: dict[str, int] = {}
    rows = []
    for record in records:
        digest = hashlib.blake2b(
            json.dumps(record, sort_keys=True, default=str).encode(), digest_size=10
        ).hexdigest()
        repeat = seen.get(digest, 0)
        seen[digest] = repeat + 1
        row = {key: value for key, value in record.items() if key not in _OWN_COLUMNS}
        row.update(sync_run_id=run_id, record_key=f"{digest}-{repeat}", sync_id=sync_id)
        rows.append(row)  # typed (or kept verbatim) by the row guard at flush
    return rows


def _positive(value: Any) -> bool:
    count = fit("double", value)
    return isinstance(count, float) and count > 0
