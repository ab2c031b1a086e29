"""Ground truth for the simulators' stored unfit values: where each must land (issue 12).

Written from the README's rule, not from syncruns_common/values.py: a string in a text field
loads typed; anything else of the kinds the simulators store lands in `{column}__v_{type}` by
its JSON type (a huge integer as its digits in `__v_text`), and its typed column is null.
"""

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any

import dlt

from tests.truth import query, table

OddValue = tuple[int, str, Any]  # (run id, field as the API spells it, value stored)
Variants = dict[tuple[str, str], dict[int, Any]]  # (column, suffix) -> {run id: value}


def variant_of(value: Any) -> tuple[str, Any]:
    """The variant suffix and the value it must hold."""
    if isinstance(value, bool):
        return "bool", value
    if isinstance(value, int):  # the simulators store only integers beyond int64
        return "text", str(value)
    if isinstance(value, float):
        return "double", value
    if isinstance(value, dict | list):
        return "json", json.dumps(value, ensure_ascii=False)
    return "text", value


def split_truth(
    runs: list[dict[str, Any]],
    odd: Iterable[OddValue],
    text_fields: frozenset[str],
    column_of: Callable[[str], str],
    id_of: Callable[[dict[str, Any]], int] = lambda run: int(run["id"]),
) -> tuple[list[dict[str, Any]], Variants]:
    """Runs with each unfit value taken out (its typed column must be null), and the variant
    cells those values must fill."""
    by_id = {id_of(run): copy.deepcopy(run) for run in runs}
    variants: Variants = {}
    for run_id, field, value in odd:
        if field in text_fields and isinstance(value, str):
            continue  # fits: loads typed, and the ground truth already says so
        run = by_id[run_id]
        *path, last = field.split(".")
        for step in path:
            run = run[step]
        run[last] = None
        suffix, kept = variant_of(value)
        variants.setdefault((column_of(field), suffix), {})[run_id] = kept
    return list(by_id.values()), variants


def assert_variants(
    pipeline: dlt.Pipeline, variants: Variants, documented: Iterable[str], id_column: str = "id"
) -> None:
    """Each variant column of a documented column holds exactly the expected cells."""
    runs = table(pipeline, "sync_runs")
    columns = pipeline.default_schema.tables["sync_runs"]["columns"]
    bases = set(documented)
    present = {
        (name.split("__v_")[0], name.split("__v_")[1])
        for name in columns
        if "__v_" in name and name.split("__v_")[0] in bases
    }
    # a field the docs don't list (Census batch_count) is typed by its first value: not here
    variants = {key: cells for key, cells in variants.items() if key[0] in bases}
    assert present == set(variants), f"variant columns {sorted(present)} != {sorted(variants)}"
    for (column, suffix), expected in variants.items():
        name = f"{column}__v_{suffix}"
        sql = f"SELECT {id_column}, {name} FROM {runs} WHERE {name} IS NOT NULL"
        assert dict(query(pipeline, sql)) == expected, name
