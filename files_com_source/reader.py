"""Reading sync runs: what is new or still open since the cursor, or exactly one window."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from dlt.common import logger

from files_com_source.client import FilesComApi
from files_com_source.cursor import SORT_ASCENDING, RunCursor, api_timestamp
from files_com_source.errors import FilesComResponseError
from files_com_source.settings import TERMINAL_STATUSES
from syncruns_common.contract import Notice, OrderCheck
from syncruns_common.timestamps import parse_timestamp
from syncruns_common.window import Window

Run = dict[str, Any]
# The one listing covers every sync: its notices are filed under this key.
ALL_SYNCS = "*"
ASCENDING = "created_at ascending"


def run_id_of(run: Run) -> int:
    """A run's id as an int; a run without one fails the load clearly."""
    try:
        return int(run["id"])
    except (KeyError, TypeError, ValueError):
        raise FilesComResponseError(
            f"answered a run without a numeric id: {run.get('id')!r}"
        ) from None


def created_at(run: Run) -> datetime:
    """A run's created_at as an instant (never compared as a string)."""
    try:
        return parse_timestamp(run["created_at"])
    except (KeyError, TypeError, ValueError):
        raise FilesComResponseError(
            f"answered run {run.get('id')!r} without a valid created_at ({run.get('created_at')!r})"
        ) from None


def run_is_open(run: Run) -> bool:
    """True while a run may still change: in_progress, or a status the docs do not list."""
    return run.get("status") not in TERMINAL_STATUSES


class IncrementalReader:
    """One list request from just below the cursor (paged), then open runs not listed, by id.

    `next_cursor` is set only once `read()` was consumed to the end, so a load that fails
    half-way leaves the stored cursor as it was. Runs that do not come in created_at order are
    read to the end with a Notice, and `next_cursor` is then the stored one: the next load lists
    the same runs again (the tables merge, so that is harmless).
    """

    def __init__(
        self, api: FilesComApi, cursor: RunCursor, overlap: timedelta, open_lookback: timedelta
    ) -> None:
        self.api = api
        self.cursor = cursor
        self.overlap = overlap
        self.open_lookback = open_lookback
        self.next_cursor: RunCursor | None = None
        self._seen: dict[int, datetime] = {}
        self._open: dict[int, datetime] = {}
        self._high_water = cursor.high_water

    def read(self) -> Iterator[list[Run] | Notice]:
        """Yield the runs to load (new ones, every run open on the last load), then notices."""
        old = self.cursor
        floor = None if old.high_water is None else old.high_water - self.overlap
        order = OrderCheck(descending=False, what=ASCENDING)
        for page in self.api.run_pages(old.list_params(self.overlap, self.open_lookback)):
            batch = []
            for run in page:
                run_id = run_id_of(run)
                if run_id in self._seen:  # a run listed twice is taken once
                    continue
                created = self._track(run, run_id)
                order.see(created, run_id)
                if (
                    floor is None
                    or run_id in old.open_runs
                    or (created >= floor and run_id not in old.edge_ids)
                ):
                    batch.append(run)
            if batch:
                yield batch
        refetched = []
        for run_id in sorted(old.open_runs.keys() - self._seen.keys()):
            fetched = self.api.fetch_run(run_id)
            if fetched is None:
                logger.warning(f"Sync run {run_id} was open and is gone (404); not re-read")
                continue
            self._track(fetched, run_id)
            refetched.append(fetched)
        if refetched:
            yield refetched
        if order.broken:
            yield Notice(ALL_SYNCS, f"{order.broken}: read to the end; cursor kept")
            self.next_cursor = old
        else:
            self.next_cursor = self._build_cursor()

    def _track(self, run: Run, run_id: int) -> datetime:
        created = created_at(run)
        self._seen[run_id] = created
        if self._high_water is None or created > self._high_water:
            self._high_water = created
        if run_is_open(run):
            self._open[run_id] = created
        return created

    def _build_cursor(self) -> RunCursor:
        if self._high_water is None:
            return RunCursor()
        edge_floor = self._high_water - self.overlap
        return RunCursor(
            high_water=self._high_water,
            edge_ids=frozenset(i for i, created in self._seen.items() if created >= edge_floor),
            open_runs=dict(self._open),
        )


def read_window(api: FilesComApi, window: Window) -> Iterator[list[Run]]:
    """Yield exactly the runs created inside `window`, filtered by the API; touches no cursor."""
    params = dict(SORT_ASCENDING)
    if window.start is not None:
        params["filter_gteq[created_at]"] = api_timestamp(window.start)
    if window.end is not None:
        params["filter_lt[created_at]"] = api_timestamp(window.end)
    seen: set[int] = set()
    for page in api.run_pages(params):
        batch = []
        for run in page:
            run_id = run_id_of(run)
            # the API filters already; checking again keeps the window exact whatever it does
            if run_id not in seen and window.contains(created_at(run)):
                batch.append(run)
            seen.add(run_id)
        if batch:
            yield batch
