"""Finishing what a killed run left behind, before a new run extracts."""

import re
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


# dlt's ExtractStorage writes each extract into `normalize/<uniq_id(8)>/`, 16 hex digits
_EXTRACT_FOLDER = re.compile(r"^[0-9a-f]{16}$")


def remove_partial_extracts(pipeline: dlt.Pipeline, load_id: str | None = None) -> list[str]:
    """Delete what extracts that never ended left (an interrupt, a kill, a full disk).

    dlt extracts into `normalize/<random>/<load id>/` and moves the package to
    `normalize/extracted/` when the extract ends; a folder of an extract that did not end is
    never read again (its cursors were not saved) and would stay for good, megabytes a time.
    With `load_id`: only the folder holding that package. Returns the folders removed.
    """
    root = Path(pipeline.working_dir) / "normalize"
    if not root.is_dir():
        return []
    removed = []
    for folder in root.iterdir():
        if not (folder.is_dir() and _EXTRACT_FOLDER.match(folder.name)):
            continue
        if load_id is None or (folder / load_id).is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def finish_interrupted_load(pipeline: dlt.Pipeline) -> None:
    """Normalize and load packages a killed run left, so this run can extract afterwards.

    dlt's run() with pending packages only finishes them and returns without extracting.
    Partial extracts are deleted first: the extract they belong to runs again from its cursors.
    """
    remove_partial_extracts(pipeline)
    remove_normalize_leftovers(pipeline)
    if pipeline.has_pending_data:
        print("syncruns: finishing the load an interrupted run left behind", file=sys.stderr)
        pipeline.normalize()
        pipeline.load()
