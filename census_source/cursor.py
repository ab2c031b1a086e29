"""Per-sync incremental cursor, kept in dlt resource state (one entry per sync id)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from census_source.settings import TERMINAL_STATUSES
from syncruns_common.timestamps import format_timestamp, parse_timestamp


@dataclass(frozen=True)
class OpenRun:
    """A run that may still change.

    `rank` is its 0-based position in creation order (to plan paging depth); `fingerprint`
    tells whether a re-read found it changed.
    """

    created_at: datetime
    rank: int | None
    fingerprint: str


@dataclass
class SyncCursor:
    """What was loaded for one sync: newest created_at, runs near it, runs still open."""

    high_water: datetime | None = None
    edge_ids: frozenset[str] = frozenset()
    total: int | None = None
    open_runs: dict[str, OpenRun] = field(default_factory=dict)

    @classmethod
    def from_state(cls, raw: Mapping[str, Any]) -> "SyncCursor":
        """Rebuild a cursor from its JSON-safe state form."""
        high_water = raw.get("high_water")
        return cls(
            high_water=parse_timestamp(high_water) if high_water else None,
            edge_ids=frozenset(str(run_id) for run_id in raw.get("edge_ids", ())),
            total=raw.get("total"),
            open_runs={
                str(run_id): OpenRun(parse_timestamp(created), rank, fingerprint)
                for run_id, (created, rank, fingerprint) in raw.get("open_runs", {}).items()
            },
        )

    def to_state(self) -> dict[str, Any]:
        """The JSON-safe form stored in pipeline state."""
        return {
            "high_water": format_timestamp(self.high_water) if self.high_water else None,
            "edge_ids": sorted(self.edge_ids),
            "total": self.total,
            "open_runs": {
                run_id: [format_timestamp(run.created_at), run.rank, run.fingerprint]
                for run_id, run in sorted(self.open_runs.items())
            },
        }


def run_is_open(run: Mapping[str, Any], created_at: datetime, settle_before: datetime) -> bool:
    """True while a run may still change and must be re-read on the next load.

    Unknown statuses count as open. A terminal run without completed_at stays open only
    until it is older than `settle_before`: failed runs often keep completed_at null forever.
    """
    if run.get("status") not in TERMINAL_STATUSES:
        return True
    return run.get("completed_at") is None and created_at >= settle_before


def overlap_cutoff(high_water: datetime | None, overlap: timedelta) -> datetime | None:
    """The created_at below which runs were loaded in final state on an earlier load."""
    return None if high_water is None else high_water - overlap
