"""Reading one sync's runs: only what is new or still open (incremental), or one window."""

from bisect import bisect_right
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from dlt.common import logger

from census_source.client import CensusApi, RunPage
from census_source.cursor import OpenRun, SyncCursor, overlap_cutoff, run_is_open
from census_source.errors import CensusResponseError
from census_source.settings import PAGE_SIZE
from syncruns_common.contract import Notice, OrderCheck
from syncruns_common.fingerprint import fingerprint
from syncruns_common.timestamps import parse_timestamp
from syncruns_common.window import Window

Run = dict[str, Any]
NEWEST_FIRST = "newest first, as order=desc asks"
UNVERIFIED = "read in full, cursor kept"


def created_at(run: Run) -> datetime:
    """A run's created_at as an instant; a run without a valid one fails its sync clearly."""
    try:
        return parse_timestamp(run["created_at"])
    except (KeyError, TypeError, ValueError):
        raise CensusResponseError(
            f"run {run.get('id')!r} of sync {run.get('sync_id')!r} has no valid created_at "
            f"({run.get('created_at')!r})"
        ) from None


def cheapest_page_depth(open_run_pages: list[int | None], pages_read: int) -> int:
    """How many list pages to read so pages + single fetches of the open runs beyond are fewest.

    `open_run_pages` holds the estimated page of each open run not seen yet (None = unknown,
    always fetched alone). Ties go to the shallower depth.
    """
    known = sorted(page for page in open_run_pages if page is not None and page > pages_read)
    unknown = len(open_run_pages) - len(known)
    best_depth, best_cost = pages_read, len(known) + unknown
    for depth in known:
        cost = (depth - pages_read) + (len(known) - bisect_right(known, depth)) + unknown
        if cost < best_cost:
            best_depth, best_cost = depth, cost
    return best_depth


class SyncRunReader:
    """Reads one sync newest-first, stopping once past the cursor; builds the next cursor.

    The next cursor (`next_cursor`) exists only after `read()` was consumed to the end, so a
    sync that fails half-way keeps its old cursor. When the API breaks the order it promised,
    or lists fewer runs than it announced, the sync is read to its end, a `Notice` is yielded
    and `next_cursor` stays the old cursor.
    """

    def __init__(
        self,
        api: CensusApi,
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
        self._max_created: datetime | None = None
        self._recent: list[tuple[datetime, str]] = []
        self._open: dict[str, OpenRun] = {}
        self._total: int | None = None

    def read(self) -> Iterator[list[Run] | Notice]:
        """Yield the runs to load, one list per request, and any Notice about the listing."""
        old = self.cursor or SyncCursor()
        cutoff = overlap_cutoff(old.high_water, self.overlap) if self.cursor else None
        pending = dict(old.open_runs)
        seen: set[str] = set()  # each run once per load: pages shift when runs are created
        order = OrderCheck(descending=True, what=NEWEST_FIRST)
        doubts: list[str] = []
        for page in self.api.run_pages(self.sync_id):
            self._total = page.total_records
            batch: list[Run] = []
            for index, run in enumerate(page.runs):
                run_id = str(run["id"])
                if run_id in seen:
                    continue
                seen.add(run_id)
                created = created_at(run)
                order.see(created, run_id)
                was_open = pending.pop(run_id, None)
                is_open = self._track(run, run_id, created, _rank(page, index))
                if (
                    cutoff is None
                    or (was_open is not None and _changed(run, was_open))
                    or (is_open and was_open is None)
                    or (old.high_water is not None and created > old.high_water)
                    or (created >= cutoff and run_id not in old.edge_ids)
                ):
                    batch.append(run)
            if batch:
                yield batch
            if not page.has_next or not page.runs:
                doubts += [page.shortfall] if page.shortfall else []
                break
            if cutoff is None or order.broken:  # the whole history, or no order to stop on
                continue
            oldest = created_at(page.runs[-1])
            if oldest < cutoff and not self._worth_paging(pending, oldest, page):
                break
        yield from self._refetch(pending)
        doubts = [order.broken, *doubts] if order.broken else doubts
        for doubt in doubts:
            yield Notice(self.sync_id, f"{doubt}: {UNVERIFIED}")
        self.next_cursor = self.cursor if doubts else self._build_cursor(old)

    def _track(self, run: Run, run_id: str, created: datetime, rank: int | None) -> bool:
        if self._max_created is None or created > self._max_created:
            self._max_created = created
        if created >= self._max_created - self.overlap:
            self._recent.append((created, run_id))
        is_open = run_is_open(run, created, self.settle_before)
        if is_open:
            self._open[run_id] = OpenRun(created, rank, fingerprint(run))
        else:
            self._open.pop(run_id, None)
        return is_open

    def _worth_paging(self, pending: dict[str, OpenRun], oldest: datetime, page: RunPage) -> bool:
        total = page.total_records
        ahead = [
            None if run.rank is None or total is None else (total - 1 - run.rank) // PAGE_SIZE + 1
            for run in pending.values()
            if run.created_at < oldest
        ]
        return cheapest_page_depth(ahead, page.number) > page.number

    def _refetch(self, pending: dict[str, OpenRun]) -> Iterator[list[Run]]:
        for run_id, open_run in sorted(pending.items()):
            run = self.api.fetch_run(run_id)
            if run is None:
                logger.warning(f"Run {run_id} of sync {self.sync_id} is gone (404); not re-read")
                continue
            self._track(run, run_id, created_at(run), open_run.rank)
            if _changed(run, open_run):
                yield [run]

    def _build_cursor(self, old: SyncCursor) -> SyncCursor:
        high_water = old.high_water
        if self._max_created is not None and (high_water is None or self._max_created > high_water):
            high_water = self._max_created
        edge: frozenset[str] = frozenset()
        if high_water is not None:
            floor = high_water - self.overlap
            edge = frozenset(run_id for created, run_id in self._recent if created >= floor)
        return SyncCursor(
            high_water=high_water,
            edge_ids=edge,
            total=self._total if self._total is not None else old.total,
            open_runs=dict(self._open),
        )


def _changed(run: Run, before: OpenRun) -> bool:
    return fingerprint(run) != before.fingerprint


def _rank(page: RunPage, index: int) -> int | None:
    if page.total_records is None:
        return None
    return page.total_records - 1 - ((page.number - 1) * PAGE_SIZE + index)


def read_window(api: CensusApi, sync_id: str, window: Window) -> Iterator[list[Run] | Notice]:
    """Yield exactly the runs created inside `window`, newest first; touches no cursor.

    Runs not newest first are read to the end of the listing, with a Notice.
    """
    seen: set[str] = set()
    order = OrderCheck(descending=True, what=NEWEST_FIRST)
    for page in api.run_pages(sync_id):
        batch = []
        for run in page.runs:
            run_id = str(run["id"])
            if run_id in seen:
                continue
            seen.add(run_id)
            created = created_at(run)
            order.see(created, run_id)
            if window.contains(created):
                batch.append(run)
        if batch:
            yield batch
        if not page.runs:
            break
        past_start = window.start is not None and created_at(page.runs[-1]) < window.start
        if past_start and order.broken is None:
            return
    if order.broken:
        yield Notice(sync_id, f"{order.broken}: read to the end of the listing")
