"""The pipeline state a run would continue from, and whether it belongs to what is checked.

A run uses the local state (`<pipelines dir>/<name>/state.json`) or, when there is none,
restores the state saved in the dataset. Both are read here without attaching the pipeline,
so nothing is written.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.schema import Schema

from pipelines.doctor_report import Check, fail
from pipelines.exit_codes import ExitCode
from pipelines.ownership import FoundState as FoundState
from pipelines.ownership import find_state as find_state
from pipelines.ownership import state_mismatch


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
    wrong = state_mismatch(
        found.state, found.where, source, dataset, destination_type, pipeline_name
    )
    return fail("state", wrong.problem, wrong.fix, ExitCode.BAD_INPUT) if wrong else None
