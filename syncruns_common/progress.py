"""The counters a load reports while it runs: syncs done of those listed, runs read, requests.

Sources call `syncs_listed`, `sync_done` and `runs_read` on dlt's thread (the resource's): they
go to the collector of the pipeline that is extracting (dlt's `progress=`), and do nothing
outside a pipeline's extract step (a resource iterated in plain Python, a test). The API
clients call `request_answered` on any thread (their workers'); a display reads
`requests_answered()`, which counts for the whole process.
"""

import threading

from dlt.common.configuration.container import Container
from dlt.common.pipeline import current_pipeline
from dlt.common.runtime.collector import NULL_COLLECTOR
from dlt.common.runtime.collector_base import Collector
from dlt.common.storages.load_package import LoadPackageStateInjectableContext

# Capitalized like dlt's own "Resources" counter: a table name (snake_case) never collides.
SYNCS = "Syncs"
RUNS = "Runs"


def syncs_listed(count: int) -> None:
    """The load reads `count` syncs: the total of the `Syncs` counter."""
    _collector().update(SYNCS, 0, total=count)


def sync_done() -> None:
    """One sync was read to its end (or failed after every retry)."""
    _collector().update(SYNCS)


def runs_read(count: int) -> None:
    """`count` more runs were read to be loaded."""
    _collector().update(RUNS, count)


def request_answered() -> None:
    """One more API request was answered (after any retries); callable on any thread."""
    _ANSWERED.add()


def requests_answered() -> int:
    """API requests this process has had answered so far."""
    return _ANSWERED.count


class _Tally:
    """A count that threads add to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


_ANSWERED = _Tally()


def _collector() -> Collector:
    """The collector of the pipeline extracting on this thread; dlt's null collector otherwise."""
    if LoadPackageStateInjectableContext not in Container():  # dlt injects it during extract
        return NULL_COLLECTOR
    pipeline = current_pipeline()
    return NULL_COLLECTOR if pipeline is None else pipeline.collector
