"""Finishing what a killed run left behind, before a new run extracts."""

import shutil
import sys
from pathlib import Path

import dlt


def remove_normalize_leftovers(pipeline: dlt.Pipeline) -> list[str]:
    """Clear what a run killed inside dlt's normalize step left, so the package can go on.

    dlt 1.31 normalizes an extracted package into `load/new/<id>`, renames that to
    `load/normalized/<id>`, then deletes the extracted copy. A kill in between leaves either an
    extracted copy of a package already normalized (every later run fails renaming onto it),
    or a half-written `load/new/<id>` beside the intact extracted copy. The first is removed
    (its data is in load storage), the second too (normalize redoes it from the extracted copy).
    """
    root = Path(pipeline.working_dir)
    normalized = set(pipeline.list_normalized_load_packages())
    normalized.update(pipeline.list_completed_load_packages())
    removed = []
    for load_id in pipeline.list_extracted_load_packages():
        extracted = root / "normalize" / "extracted" / load_id
        half_done = root / "load" / "new" / load_id
        if load_id in normalized:
            shutil.rmtree(extracted)
            removed.append(load_id)
        elif half_done.is_dir():
            shutil.rmtree(half_done)
            removed.append(load_id)
    return removed


def finish_interrupted_load(pipeline: dlt.Pipeline) -> None:
    """Normalize and load packages a killed run left, so this run can extract afterwards.

    dlt's run() with pending packages only finishes them and returns without extracting.
    """
    remove_normalize_leftovers(pipeline)
    if pipeline.has_pending_data:
        print("syncruns: finishing the load an interrupted run left behind", file=sys.stderr)
        pipeline.normalize()
        pipeline.load()
