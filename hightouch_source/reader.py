"""Reading one sync's runs: what is new or still open (incremental), or exactly one window."""

import math
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dlt.common import logger

from hightouch_source.client import HightouchApi
from hightouch_source.cursor import OpenRun, SyncCursor, run_is_open, run_key, run_start
from hightouch_source.settings import API_PREFIX, FILTER_SLACK_SECONDS
from syncruns_common.contract import Notice, OrderCheck
from syncruns_common.fingerprint import fingerprint
from syncruns_common.window import Window

Row = dict[str, Any]
SLACK = timedelta(seconds=FILTER_SLACK_SECONDS)


def to_row(run: Mapping[str, Any], sync_id: str) -> Row:
    """The `sync_runs` row of an API run: its fields plus `sync_id`, ids as integers."""
    row = dict(run)
    row.pop("syncId", None)  # our sync_id below is authoritative
    row["id"] = int(run_key(run, sync_id))
    row["sync_id"] = int(sync_id)
    return row


@dataclass(frozen=True)
class ReadPlan:
    """Where the listing starts (None: the whole history) and which open runs to fetch alone."""

    after: datetime | None
    refetch: tuple[str, ...]


def plan_read(cursor: SyncCursor | None, overlap: timedelta, page_size: int) -> ReadPlan:
    """The cheapest way to see every run started since the cursor and every run still open.

    One listing from `high_water - overlap` reads the new runs. An open run that started before
    that is either covered by listing from its start (the pages of runs after it) or fetched
    alone by id (one request); the split with the fewest requests wins, ties to the shallower.
    """
    if cursor is None or cursor.high_water is None:
        return ReadPlan(after=None, refetch=())
    base = cursor.high_water - overlap
    older = sorted(
        (run.started, run.later, run_id)
        for run_id, run in cursor.open_runs.items()
        if run.started < base
    )
    recent = len(cursor.edge_ids) + len(cursor.open_runs) - len(older)
    best_cost, best_index = math.ceil(max(1, recent) / page_size) + len(older), len(older)
    for index, (_, later, _) in enumerate(older):
        cost = math.ceil((later + 1) / page_size) + index
        if cost < best_cost:
            best_cost, best_index = cost, index
    start = older[best_index][0] if best_index < len(older) else base
    return ReadPlan(after=start - SLACK, refetch=tuple(run_id for *_, run_id in older[:best_index]))


ASCENDING_ID = "by ascending id, as orderBy=id asks"
READ_IN_FULL = "read in full"
CURSOR_KEPT = "read in full, cursor kept"


def order_notice(order: OrderCheck, sync_id: str, cursor_kept: bool) -> Notice | None:
    """The notice for a listing whose runs did not come by ascending id (None if they did)."""
    if order.broken is None:
        return None
    done = CURSOR_KEPT if cursor_kept else READ_IN_FULL
    return Notice(sync_id, f"GET {API_PREFIX}/syncs/{sync_id}/runs: {order.broken}; {done}")


class SyncRunReader:
    """Reads one sync's new and open runs with `after`; builds the sync's next cursor.

    `next_cursor` exists only after `read()` was consumed to the end, so a sync that fails
    half-way keeps its old cursor. A listing not sorted by id (as asked) is read to the end
    and reported with a `Notice`; the cursor stays as it was, so the next load lists the same
    runs again (the table merges on id).
    """

    def __init__(
        self,
        api: HightouchApi,
        sync_id: str,
        cursor: SyncCursor | None,
        overlap: timedelta,
        settle_before: datetime,
    ) -> None:
        self.api = api
        self.sync_id = sync_id
        self.cursor = cursor
        self.overlap = overlap
        self.settle_before = settle_before
        self.next_cursor: SyncCursor | None = None

    def _is_open(self, run: Mapping[str, Any], start: datetime) -> bool:
        return run_is_open(run, start, self.settle_before)

    def read(self) -> Iterator[list[Row] | Notice]:
        """Yield the runs to load, one list per request, and a `Notice` if the order broke."""
        old = self.cursor or SyncCursor()
        order = OrderCheck(descending=False, what=ASCENDING_ID)
        plan = plan_read(self.cursor, self.overlap, self.api.page_size)
        base = None if old.high_water is None else old.high_water - self.overlap
        pending = dict(old.open_runs)
        seen: set[str] = set()  # each run once per load, whatever the paging does
        listed: list[tuple[datetime, str, Mapping[str, Any]]] = []
        for page in self.api.run_pages(self.sync_id, after=plan.after):
            batch: list[Row] = []
            for run in page:
                run_id = run_key(run, self.sync_id)
                order.see(int(run_id), run_id)
                if run_id in seen:
                    continue
                seen.add(run_id)
                start = run_start(run, self.sync_id)
                listed.append((start, run_id, run))
                was_open = pending.pop(run_id, None)
                if was_open is not None:
                    wanted = fingerprint(run) != was_open.fingerprint
                elif self.cursor is None or self._is_open(run, start):
                    wanted = True
                else:  # closed: new, or a late arrival near the edge, unless loaded before
                    known = run_id in old.edge_ids or (base is not None and start < base)
                    wanted = not known
                if wanted:
                    batch.append(to_row(run, self.sync_id))
            if batch:
                yield batch
        refetched: dict[str, tuple[datetime, Mapping[str, Any]]] = {}
        for run_id, was_open in sorted(pending.items()):
            fetched = self.api.fetch_run(self.sync_id, run_id)
            if fetched is None:
                logger.warning(f"Open run {run_id} of sync {self.sync_id} is gone; not re-read")
                continue
            refetched[run_id] = (run_start(fetched, self.sync_id), fetched)
            if fingerprint(fetched) != was_open.fingerprint:
                yield [to_row(fetched, self.sync_id)]
        notice = order_notice(order, self.sync_id, cursor_kept=True)
        if notice is not None:
            yield notice
            self.next_cursor = self.cursor
            return
        self.next_cursor = self._next_cursor(old, listed, refetched)

    def _next_cursor(
        self,
        old: SyncCursor,
        listed: list[tuple[datetime, str, Mapping[str, Any]]],
        refetched: dict[str, tuple[datetime, Mapping[str, Any]]],
    ) -> SyncCursor:
        starts = sorted(start for start, _, _ in listed)
        high_water = max([*starts[-1:], *(s for s, _ in refetched.values())], default=None)
        if old.high_water is not None and (high_water is None or old.high_water > high_water):
            high_water = old.high_water
        new_runs = (
            0 if old.high_water is None else len(starts) - bisect_right(starts, old.high_water)
        )
        open_runs: dict[str, OpenRun] = {}
        edge: set[str] = set()
        for start, run_id, run in listed:
            if self._is_open(run, start):
                later = len(starts) - bisect_right(starts, start)
                open_runs[run_id] = OpenRun(start, later, fingerprint(run))
            elif high_water is not None and start >= high_water - self.overlap:
                edge.add(run_id)
        for run_id, (start, run) in refetched.items():
            if self._is_open(run, start):
                later = old.open_runs[run_id].later + new_runs
                open_runs[run_id] = OpenRun(start, later, fingerprint(run))
        return SyncCursor(high_water=high_water, edge_ids=frozenset(edge), open_runs=open_runs)


def read_window(api: HightouchApi, sync_id: str, window: Window) -> Iterator[list[Row] | Notice]:
    """Yield exactly the runs that started inside `window`; touches no cursor.

    The server filter is sent a little wider than the window and the edges are cut here.
    A listing not sorted by id is read to the end and reported with a `Notice`.
    """
    after = None if window.start is None else window.start - SLACK
    before = None if window.end is None else window.end + SLACK
    seen: set[str] = set()
    order = OrderCheck(descending=False, what=ASCENDING_ID)
    for page in api.run_pages(sync_id, after=after, before=before):
        batch = []
        for run in page:
            run_id = run_key(run, sync_id)
            order.see(int(run_id), run_id)
            if run_id not in seen and window.contains(run_start(run, sync_id)):
                batch.append(to_row(run, sync_id))
            seen.add(run_id)
        if batch:
            yield batch
    notice = order_notice(order, sync_id, cursor_kept=False)
    if notice is not None:
        yield notice
