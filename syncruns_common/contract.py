"""Checks that a vendor API keeps the promises a reader relies on: sort order, paging progress.

A broken promise is either worked around and reported (a `Notice`: the sync was read in full
and its cursor kept) or ends that sync's listing with one clear error; never a silent gap.
"""

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from dlt.common import logger

# Custom metric of the sync_runs resource (dlt's extract trace): {sync id: what the API did},
# for syncs whose listing broke a promise that was worked around.
CONTRACT_NOTICES = "contract_notices"

# A listing that goes on past this many pages is stopped with an error even when every page
# brings runs not seen before (10 million runs at 100 a page; no real sync has that many).
MAX_PAGES = 100_000
# With a total announced (Census `total_records`): pages beyond twice the pages it implies,
# plus this many, mean the total or the paging is wrong; the listing stops with an error.
TOTAL_PAGES_SLACK = 10


@dataclass(frozen=True)
class Notice:
    """A promise one sync's listing broke that was worked around; reported in the summary."""

    sync_id: str
    message: str


class OrderCheck:
    """Follows the sort key of each run in the order received; keeps the first step backwards.

    Equal keys are in order (runs may share a timestamp). `broken` is None while every key
    came in the promised direction, else one line saying where it did not.
    """

    def __init__(self, descending: bool, what: str) -> None:
        self.descending = descending
        self.what = what
        self.broken: str | None = None
        self._last: Any = None
        self._last_id: Any = None

    def see(self, key: Any, run_id: Any) -> None:
        """Note the next run's sort key."""
        last = self._last
        if last is not None and self.broken is None:
            backwards = key > last if self.descending else key < last
            if backwards:
                self.broken = (
                    f"runs did not come {self.what} (run {run_id} came after run {self._last_id})"
                )
        self._last, self._last_id = key, run_id


class PageGuard:
    """Stops a listing that makes no progress, with `error(message)` naming endpoint and page.

    It fires on a non-empty page of runs all read before on this listing (a page served
    again, an ignored `page`/`offset`), on a page number beyond what the announced total
    allows, and past `max_pages`.
    """

    def __init__(
        self,
        endpoint: str,
        error: Callable[[str], Exception],
        max_pages: int = MAX_PAGES,
        items: str = "runs",
    ) -> None:
        self.endpoint = endpoint
        self.items = items
        self.error = error
        self.max_pages = max_pages
        self.pages = 0
        self.seen: set[Hashable] = set()
        self.repeated = 0  # runs received again (pages shifting while read)
        self._largest_total = 0
        self._largest_page = 0

    def check(self, where: str, ids: Iterable[Hashable], total: int | None = None) -> None:
        """Check the next page (its run ids, and the total it announced, if any)."""
        page = list(ids)
        self.pages += 1
        self._largest_page = max(self._largest_page, len(page))
        if total is not None:
            self._largest_total = max(self._largest_total, total)
        fresh = {run_id for run_id in page if run_id not in self.seen}
        if page and not fresh:
            raise self.error(
                f"GET {self.endpoint} {where} answered only {self.items} already read on this "
                f"listing ({len(page)}): the API ignores the paging parameter or serves a page "
                "again; stopped so the listing does not loop"
            )
        self.repeated += len(page) - len(fresh)
        self.seen |= fresh
        bound = self.max_pages
        if self._largest_total and self._largest_page:
            implied = math.ceil(self._largest_total / self._largest_page)
            bound = min(bound, 2 * implied + TOTAL_PAGES_SLACK)
        if self.pages > bound:
            limit = (
                f"twice the pages the {self._largest_total} runs announced fill"
                if bound < self.max_pages
                else f"{self.max_pages:,} pages"
            )
            raise self.error(
                f"GET {self.endpoint} {where}: the listing goes on past {limit}; stopped"
            )

    def shortfall(self, total: int | None) -> str | None:
        """After the last page: why fewer runs came than `total` announced, or None."""
        if total is None or len(self.seen) + self.repeated >= total:
            return None
        return (
            f"GET {self.endpoint} announced {total} runs but listed {len(self.seen)} distinct ones"
        )


def record_notice(metrics: dict[str, Any], notice: Notice, source: str) -> None:
    """Keep `notice` in the resource's CONTRACT_NOTICES metric; warn once per sync and message."""
    notices: dict[str, list[str]] = metrics.setdefault(CONTRACT_NOTICES, {})
    said = notices.setdefault(notice.sync_id, [])
    if notice.message not in said:
        logger.warning(f"{source}: sync {notice.sync_id}: {notice.message}")
        said.append(notice.message)
