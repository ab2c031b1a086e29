"""Whether a pipeline's state belongs to the source, dataset and destination a command names.

A pipeline name reused for another source or dataset would continue the wrong cursors, and
dlt's staging then fails every later run of the first source; so `run`, `backfill` and `demo`
refuse it before anything is written, and `doctor` shows it as a ✗ row.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.versioned_state import json_decode_state
from dlt.pipeline.pipeline import Pipeline
from dlt.pipeline.state_sync import migrate_state_to_current


@dataclass(frozen=True)
class FoundState:
    """A pipeline's state and where it was found."""

    state: dict[str, Any]
    where: str


def find_state(
    pipeline_name: str, pipelines_dir: str | None, stored: Mapping[str, Any] | None
) -> FoundState | None:
    """The state the next run would use: local first, else the one saved in the dataset."""
    folder = Path(pipelines_dir or get_dlt_pipelines_dir()) / pipeline_name
    path = folder / Pipeline.STATE_FILE
    if path.is_file():
        raw = json_decode_state(path.read_text(encoding="utf-8"))
        state = dict(migrate_state_to_current(pipeline_name, raw))
        return FoundState(state, f"local state {folder}")
    if stored:
        return FoundState(dict(stored), "the state saved in the dataset (a run restores it)")
    return None


@dataclass(frozen=True)
class Mismatch:
    """What the state belongs to instead (`kind`: source, dataset or destination), and the fix."""

    kind: str
    problem: str
    fix: str


def state_mismatch(
    state: Mapping[str, Any],
    where: str,
    source: str,
    dataset: str,
    destination_type: str | None,
    pipeline_name: str,
) -> Mismatch | None:
    """The first way `state` (found at `where`) belongs elsewhere; None when it is this one's."""
    sources = sorted((state.get("sources") or {}).keys())
    others = [name for name in sources if name != source]
    if others and source not in sources:
        return Mismatch(
            "source",
            f"pipeline {pipeline_name!r} ({where}) holds the cursors of source "
            f"{', '.join(others)}, not {source}",
            f"use the pipeline of {source} (--pipeline-name {source}_syncruns); each source "
            "needs its own pipeline",
        )
    stored_dataset = state.get("dataset_name")
    if stored_dataset and stored_dataset != dataset:
        return Mismatch(
            "dataset",
            f"pipeline {pipeline_name!r} loads into dataset {stored_dataset!r}, not {dataset!r}: "
            f"a run would continue {stored_dataset!r}'s cursors in {dataset!r} and miss history",
            f"use --dataset {stored_dataset}, or a new --pipeline-name for dataset {dataset!r}",
        )
    stored_type = str(state.get("destination_type") or "").rsplit(".", 1)[-1]
    if destination_type and stored_type and stored_type != destination_type:
        return Mismatch(
            "destination",
            f"pipeline {pipeline_name!r} loads into {stored_type}, not {destination_type}: its "
            f"cursors describe the data in {stored_type}",
            f"use --destination {stored_type}, or a new --pipeline-name for {destination_type}",
        )
    return None


def refuse_foreign_state(
    pipeline_name: str, source: str, dataset: str, destination: str, source_only: bool = False
) -> None:
    """Raise UsageError, before anything is written, when the pipeline's local state belongs
    to another source (or, unless `source_only`, another dataset or destination)."""
    from pipelines.sources import UsageError

    found = find_state(pipeline_name, None, None)
    if found is None:
        return
    wrong = state_mismatch(
        found.state,
        found.where,
        source,
        dataset,
        destination.rsplit(".", 1)[-1],
        pipeline_name,
    )
    if wrong and (wrong.kind == "source" or not source_only):
        raise UsageError(f"{wrong.problem}: {wrong.fix} (nothing was written)")
