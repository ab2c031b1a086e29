"""The incremental cursor of `sync_runs`, kept in dlt resource state, and what to ask for next."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncruns_common.timestamps import parse_timestamp

SORT_ASCENDING = {"sort_by[created_at]": "asc"}


def api_timestamp(instant: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, microseconds only when there are any (filters, state)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class RunCursor:
    """What earlier loads saw: the newest created_at, the runs near it, the runs still open.

    `edge_ids` are the runs loaded with created_at within the overlap below `high_water`: they
    are listed again and skipped. `open_runs` maps each open run's id to its created_at.
    """

    high_water: datetime | None = None
    edge_ids: frozenset[int] = frozenset()
    open_runs: dict[int, datetime] = field(default_factory=dict)

    @classmethod
    def from_state(cls, raw: Mapping[str, Any]) -> "RunCursor":
        """Rebuild a cursor from its JSON-safe state form (an empty mapping: first load)."""
        high_water = raw.get("high_water")
        return cls(
            high_water=parse_timestamp(high_water) if high_water else None,
            edge_ids=frozenset(int(run_id) for run_id in raw.get("edge_ids", ())),
            open_runs={
                int(run_id): parse_timestamp(created)
                for run_id, created in raw.get("open_runs", {}).items()
            },
        )

    def to_state(self) -> dict[str, Any]:
        """The JSON-safe form stored in pipeline state."""
        return {
            "high_water": api_timestamp(self.high_water) if self.high_water else None,
            "edge_ids": sorted(self.edge_ids),
            "open_runs": {
                str(run_id): api_timestamp(created)
                for run_id, created in sorted(self.open_runs.items())
            },
        }

    def list_params(self, overlap: timedelta, open_lookback: timedelta) -> dict[str, str]:
        """Filters of the one list request of an incremental load.

        Starts `overlap` below the newest loaded run, or below the earliest open run created
        within `open_lookback` of it, whichever is earlier. Older open runs are not listed.
        """
        if self.high_water is None:
            return dict(SORT_ASCENDING)
        recent = [c for c in self.open_runs.values() if c >= self.high_water - open_lookback]
        lower = min([self.high_water, *recent]) - overlap
        return {**SORT_ASCENDING, "filter_gt[created_at]": api_timestamp(lower)}
