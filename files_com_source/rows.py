"""Runs as dlt rows: documented values typed or kept verbatim, in a run and its live transfers."""

from collections.abc import MutableMapping
from typing import Any

from files_com_source.tables import (
    LIVE_TRANSFER_COLUMNS,
    LIVE_TRANSFERS_TABLE,
    OBJECT_LISTS,
    RUN_COLUMNS,
    TEXT_LISTS,
)
from syncruns_common.progress import runs_read
from syncruns_common.row_guard import RowGuard, kinds_of
from syncruns_common.verbatim import VerbatimTally

Run = dict[str, Any]
SOURCE = "files_com"


class _RunTally(VerbatimTally):
    """The tally (same metric) naming the run a child row belongs to as the example."""

    run_id: Any = None

    def note(self, table: str, column: str, run_id: Any, suffix: str, count: int = 1) -> None:
        super().note(table, column, self.run_id, suffix, count)


class RunRows:
    """Copies of runs ready for dlt's normalizer, by the rules of syncruns_common.row_guard.

    `live_transfers` entries (objects) go through their own guard, as rows of
    `sync_runs__live_transfers`; the rest of a run through the `sync_runs` guard.
    """

    def __init__(self, metrics: MutableMapping[str, Any]) -> None:
        tally = VerbatimTally(metrics, SOURCE)
        self._runs = RowGuard(
            "sync_runs", kinds_of(RUN_COLUMNS), tally, TEXT_LISTS, object_lists=OBJECT_LISTS
        )
        self._transfer_tally = _RunTally(metrics, SOURCE)
        self._transfers = RowGuard(
            LIVE_TRANSFERS_TABLE, kinds_of(LIVE_TRANSFER_COLUMNS), self._transfer_tally
        )

    def guard(self, runs: list[Run]) -> list[Run]:
        """New rows; the input runs are not changed."""
        runs_read(len(runs))
        rows = self._runs.guard(runs)
        for row in rows:
            transfers = row.get("live_transfers")
            if isinstance(transfers, list) and transfers:
                self._transfer_tally.run_id = row.get("id")
                row["live_transfers"] = [
                    self._transfers.guard([entry])[0] if isinstance(entry, dict) else entry
                    for entry in transfers
                ]
        return rows
