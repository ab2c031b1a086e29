"""What becomes of a sync whose reading failed: a warning, a metric, or the end of the load."""

from collections.abc import Callable
from typing import Any

from dlt.common import logger

from syncruns_common.fanout import Failed

# Custom metrics of the sync_runs resource (in dlt's extract trace): syncs that failed after every
# retry, with the error, and syncs deleted while loading. Their cursors do not move.
FAILED_SYNCS = "failed_syncs"
DELETED_SYNCS = "deleted_syncs"


class SyncFailures:
    """Records failed syncs in the resource's metrics.

    A sync deleted while loading (`deleted_error`) is a warning, unless every sync listed was
    (`all_deleted` builds the error then); `fatal_error` (a refused token)
    and errors that are not the source's own (`source_error`) abort the load; any other error
    fails that sync only, which keeps its cursor and is caught up on the next load.
    """

    def __init__(
        self,
        metrics: dict[str, Any],
        deleted_error: type[Exception],
        fatal_error: type[Exception],
        source_error: type[Exception],
        all_deleted: Callable[[int], Exception] | None = None,
    ) -> None:
        self.failed: dict[str, str] = metrics.setdefault(FAILED_SYNCS, {})
        self.deleted: list[str] = metrics.setdefault(DELETED_SYNCS, [])
        self.errors: list[BaseException] = []
        self._deleted_error = deleted_error
        self._fatal_error = fatal_error
        self._source_error = source_error
        self._all_deleted = all_deleted

    def record(self, item: Failed) -> None:
        """Warn about and count one failed sync, or re-raise its error when it is fatal."""
        if isinstance(item.error, self._deleted_error):
            logger.warning(f"Sync {item.sync_id} answered 404 (deleted while loading); skipped")
            self.deleted.append(item.sync_id)
            return
        if isinstance(item.error, self._fatal_error) or not isinstance(
            item.error, self._source_error
        ):
            raise item.error
        logger.warning(f"Sync {item.sync_id} failed and keeps its cursor: {item.error}")
        self.failed[item.sync_id] = str(item.error)
        self.errors.append(item.error)

    def raise_if_all_failed(self, syncs: int) -> None:
        """Raise the first error when not one of `syncs` could be read: an outage, not a
        partial load. A partial load is logged at ERROR, naming each failed sync."""
        if self.errors and len(self.errors) == syncs:
            raise self.errors[0]
        if self._all_deleted is not None and syncs and len(self.deleted) == syncs:
            raise self._all_deleted(syncs)  # every listed sync "deleted": a wrong path, not a race
        if self.failed:
            named = "; ".join(f"sync {sid}: {error}" for sid, error in sorted(self.failed.items()))
            logger.error(
                f"Partial load: {len(self.failed)} of {syncs} syncs failed after every retry and "
                f"keep their cursors; the others load. {named}. From Python, call "
                "syncruns_common.partial.raise_on_partial_load(pipeline) after run() to raise"
            )
