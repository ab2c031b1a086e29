"""The pipeline state a run would continue from, and whether it belongs to what is checked.

A run uses the local state (`<pipelines dir>/<name>/state.json`) or, when there is none,
restores the state saved in the dataset. Both are read here without attaching the pipeline,
so nothing is written.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.schema import Schema
from dlt.common.versioned_state import json_decode_state
from dlt.pipeline.pipeline import Pipeline
from dlt.pipeline.state_sync import migrate_state_to_current

from pipelines.doctor_report import Check, fail
from pipelines.exit_codes import ExitCode


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


def local_schema(pipeline_name: str, pipelines_dir: str | None, schema_name: str) -> Schema | None:
    """The pipeline's local copy of the source schema (what a run types ids by), if any."""
    folder = Path(pipelines_dir or get_dlt_pipelines_dir()) / pipeline_name / "schemas"
    path = folder / f"{schema_name}.schema.json"
    if not path.is_file():
        return None
    return Schema.from_dict(json.loads(path.read_text(encoding="utf-8")))


def resource_state(state: Mapping[str, Any], source: str, resource: str) -> dict[str, Any]:
    """The state of one resource of one source (empty when there is none)."""
    sources = state.get("sources") or {}
    resources = (sources.get(source) or {}).get("resources") or {}
    return dict(resources.get(resource) or {})


def cursor_sync_ids(state: FoundState | None, source: str) -> set[str]:
    """The sync ids with a cursor in the `sync_runs` state of `source` (none without state)."""
    if state is None:
        return set()
    return set((resource_state(state.state, source, "sync_runs").get("syncs") or {}).keys())


def ownership(
    found: FoundState, source: str, dataset: str, destination_type: str | None, pipeline_name: str
) -> Check | None:
    """A ✗ `state` row when the state belongs to another source, dataset or destination."""
    state = found.state
    sources = sorted((state.get("sources") or {}).keys())
    others = [name for name in sources if name != source]
    if others and source not in sources:
        return fail(
            "state",
            f"pipeline {pipeline_name!r} ({found.where}) holds the cursors of source "
            f"{', '.join(others)}, not {source}",
            f"use the pipeline of {source} (--pipeline-name {source}_syncruns); each source "
            "needs its own pipeline",
            ExitCode.BAD_INPUT,
        )
    stored_dataset = state.get("dataset_name")
    if stored_dataset and stored_dataset != dataset:
        return fail(
            "state",
            f"pipeline {pipeline_name!r} loads into dataset {stored_dataset!r}, not {dataset!r}: "
            f"a run would continue {stored_dataset!r}'s cursors in {dataset!r} and miss history",
            f"use --dataset {stored_dataset}, or a new --pipeline-name for dataset {dataset!r}",
            ExitCode.BAD_INPUT,
        )
    stored_type = str(state.get("destination_type") or "").rsplit(".", 1)[-1]
    if destination_type and stored_type and stored_type != destination_type:
        return fail(
            "state",
            f"pipeline {pipeline_name!r} loads into {stored_type}, not {destination_type}: its "
            f"cursors describe the data in {stored_type}",
            f"use --destination {stored_type}, or a new --pipeline-name for {destination_type}",
            ExitCode.BAD_INPUT,
        )
    return None
