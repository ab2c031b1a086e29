"""A partial load seen from Python: the syncs that failed after every retry, as an error.

`pipeline.run()` returns normally when some syncs failed and the rest loaded (their cursors
did not move; the next run catches them up). The load is logged at ERROR naming each sync;
`raise_on_partial_load(pipeline)` after the run turns it into an exception, the Python
equivalent of the CLI's exit code 5.
"""

from collections.abc import Iterator
from typing import Any

import dlt

from syncruns_common.failures import FAILED_SYNCS

SYNC_RUNS = "sync_runs"


class PartialLoadError(RuntimeError):
    """Some syncs failed after every retry; everything else loaded and was committed."""

    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = dict(failed)
        syncs = "; ".join(f"sync {sync_id}: {error}" for sync_id, error in sorted(failed.items()))
        super().__init__(
            f"{len(failed)} sync(s) failed after every retry and keep their cursors (the next "
            f"run catches them up); everything else loaded. {syncs}"
        )


def custom_metrics(pipeline: dlt.Pipeline) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource name, its custom metrics) for each resource of the pipeline's last extract."""
    trace = pipeline.last_trace
    extract = trace.last_extract_info if trace else None
    for step_metrics in extract.metrics.values() if extract else []:
        for metrics in step_metrics:
            for name, resource in metrics["resource_metrics"].items():
                yield name, resource.custom_metrics


def last_run_metrics(pipeline: dlt.Pipeline) -> dict[str, Any]:
    """The custom metrics of the `sync_runs` resource in the pipeline's last extract."""
    merged: dict[str, Any] = {}
    for name, metrics in custom_metrics(pipeline):
        if name == SYNC_RUNS:
            merged.update(metrics)
    return merged


def failed_syncs(pipeline: dlt.Pipeline) -> dict[str, str]:
    """Sync id -> error of each sync that failed after every retry in the last run."""
    return dict(last_run_metrics(pipeline).get(FAILED_SYNCS, {}))


def raise_on_partial_load(pipeline: dlt.Pipeline) -> None:
    """Raise PartialLoadError when the pipeline's last run left syncs failed."""
    failed = failed_syncs(pipeline)
    if failed:
        raise PartialLoadError(failed)
