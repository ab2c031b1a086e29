"""Reading many syncs at once: worker threads, a bounded queue, results handed to one consumer.

The consumer (the dlt resource, on dlt's thread) yields pages and commits cursors, so state is
only touched on one thread. The bounded queue keeps memory flat: workers wait while dlt writes.
"""

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from syncruns_common.progress import sync_done, syncs_listed

Result = TypeVar("Result")


@dataclass(frozen=True)
class Page:
    """One batch a sync's job yielded (a list of runs, or whatever else the job yields)."""

    sync_id: str
    batch: Any


@dataclass(frozen=True)
class Finished(Generic[Result]):
    """One sync read to the end; `result` is what its job returned (e.g. its next cursor)."""

    sync_id: str
    result: Result


@dataclass(frozen=True)
class Failed:
    """One sync's job raised; the others go on."""

    sync_id: str
    error: BaseException


Job = Callable[[str], Generator[Any, None, Any]]
"""Reads one sync: yields batches, then returns its result via StopIteration.value."""

_POLL_S = 0.2


def read_concurrently(
    sync_ids: list[str], job: Job, workers: int, thread_name: str = "sync-reader"
) -> Generator[Page | Finished[Any] | Failed, None, None]:
    """Run `job` for every sync on up to `workers` threads; yield pages and endings as they come.

    With workers == 1 everything runs on the caller's thread, in order. Threads are named
    `<thread_name>-<n>`. The syncs listed and each one's ending are counted for the load's
    progress display (syncruns_common.progress).
    """
    syncs_listed(len(sync_ids))
    if workers <= 1 or len(sync_ids) <= 1:
        for sync_id in sync_ids:
            yield from _run_inline(sync_id, job)
            sync_done()
        return
    results: queue.Queue[Page | Finished[Any] | Failed] = queue.Queue(maxsize=2 * workers)
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for sync_id in sync_ids:
        todo.put(sync_id)
    stop = threading.Event()

    def put(item: Page | Finished[Any] | Failed) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        while not stop.is_set():
            try:
                sync_id = todo.get_nowait()
            except queue.Empty:
                return
            for item in _run_inline(sync_id, job, stop):
                if not put(item):
                    return

    threads = [
        threading.Thread(target=work, name=f"{thread_name}-{n}", daemon=True)
        for n in range(min(workers, len(sync_ids)))
    ]
    for thread in threads:
        thread.start()
    try:
        remaining = len(sync_ids)
        while remaining:
            item = results.get()
            if not isinstance(item, Page):
                remaining -= 1
                sync_done()
            yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _run_inline(
    sync_id: str, job: Job, stop: threading.Event | None = None
) -> Iterator[Page | Finished[Any] | Failed]:
    batches = job(sync_id)
    try:
        while stop is None or not stop.is_set():
            yield Page(sync_id, next(batches))
    except StopIteration as done:
        yield Finished(sync_id, done.value)
    except Exception as error:
        yield Failed(sync_id, error)
    finally:
        batches.close()
