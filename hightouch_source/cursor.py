"""Per-sync incremental cursor on a run's start time, kept in dlt resource state."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hightouch_source.errors import HightouchResponseError
from hightouch_source.settings import SETTLING_STATUSES, TERMINAL_STATUSES
from syncruns_common.timestamps import format_timestamp, parse_timestamp


@dataclass(frozen=True)
class OpenRun:
    """A run that may still change.

    `started` is its start as last seen (a queued run's start moves forward when it leaves the
    queue, never back); `later` counts the sync's runs that started after it, to price reading
    back to it; `fingerprint` tells whether a re-read found it changed.
    """

    started: datetime
    later: int
    fingerprint: str


@dataclass
class SyncCursor:
    """What was loaded for one sync: the newest start, the closed runs near it, the open runs."""

    high_water: datetime | None = None
    edge_ids: frozenset[str] = frozenset()
    open_runs: dict[str, OpenRun] = field(default_factory=dict)

    @classmethod
    def from_state(cls, raw: Mapping[str, Any]) -> "SyncCursor":
        """Rebuild a cursor from its JSON-safe state form."""
        high_water = raw.get("high_water")
        return cls(
            high_water=parse_timestamp(high_water) if high_water else None,
            edge_ids=frozenset(str(run_id) for run_id in raw.get("edge_ids", ())),
            open_runs={
                str(run_id): OpenRun(parse_timestamp(started), int(later), str(fingerprint))
                for run_id, (started, later, fingerprint) in raw.get("open_runs", {}).items()
            },
        )

    def to_state(self) -> dict[str, Any]:
        """The JSON-safe form stored in pipeline state."""
        return {
            "high_water": format_timestamp(self.high_water) if self.high_water else None,
            "edge_ids": sorted(self.edge_ids, key=int),
            "open_runs": {
                run_id: [format_timestamp(run.started), run.later, run.fingerprint]
                for run_id, run in sorted(self.open_runs.items())
            },
        }


def run_is_open(run: Mapping[str, Any], started: datetime, settle_before: datetime) -> bool:
    """True while a run may still change and must be re-read on the next load.

    Terminal statuses are final. `aborted` is open until the run's start is older than
    `settle_before`. Open statuses, and statuses nobody lists, are open.
    """
    status = run.get("status")
    if status in SETTLING_STATUSES:
        return started >= settle_before
    return status not in TERMINAL_STATUSES


def run_start(run: Mapping[str, Any], sync_id: str) -> datetime:
    """The instant the incremental cursor follows: startedAt, or createdAt when it is missing.

    A run with neither fails its sync with a clear message.
    """
    for key in ("startedAt", "createdAt"):
        value = run.get(key)
        if value:
            try:
                return parse_timestamp(value)
            except (TypeError, ValueError):
                break
    raise HightouchResponseError(
        f"run {run.get('id')!r} of sync {sync_id} has no valid startedAt "
        f"({run.get('startedAt')!r}) or createdAt ({run.get('createdAt')!r})"
    )


def run_key(run: Mapping[str, Any], sync_id: str) -> str:
    """A run's id as digits (the API types it as a number); anything else fails the sync."""
    value = run.get("id")
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return str(int(value))
    raise HightouchResponseError(f"run id {value!r} of sync {sync_id} is not a whole number")
