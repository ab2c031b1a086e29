"""Pages of runs as typed Arrow tables: the fast loader path (no per-row normalizing in dlt).

Documented fields get fixed types. A column whose values all have the expected Python type is
built in one vectorized step; otherwise each value is fitted by the rule of
syncruns_common/values.py, and one that does not fit lands verbatim in `{column}__v_{type}` (as
dlt's normalizer would place it), counted in the tally. Fields the docs don't list pass
through: numbers as double (so the type never depends on which runs share a batch; an integer
a double cannot hold exactly goes to `__v_text`), nested objects flattened with `__` (an empty
one as the text `{}`), lists as JSON text, and a value whose type disagrees with the column
already in the schema goes to a variant column (`name__v_text`): an API change never fails a
load and never loses a value.
"""

import json
from collections.abc import Mapping
from itertools import compress, repeat
from operator import not_
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema import Schema

from census_source.tables import RUN_COUNT_FIELDS, RUN_FLAG_FIELDS, RUN_TEXT_FIELDS, RUN_TIME_FIELDS
from census_source.versions import IdType
from syncruns_common.values import Kind, Verbatim, fit, verbatim
from syncruns_common.verbatim import VerbatimTally

TIMESTAMP = pa.timestamp("us", tz="UTC")
ID_TYPES: dict[IdType, pa.DataType] = {"bigint": pa.int64(), "text": pa.string()}
RUN_TYPES: dict[str, pa.DataType] = {
    "id": pa.int64(),
    "sync_id": pa.int64(),
    "created_at": TIMESTAMP,
    **{name: TIMESTAMP for name in RUN_TIME_FIELDS},
    **{name: pa.int64() for name in RUN_COUNT_FIELDS},
    **{name: pa.string() for name in RUN_TEXT_FIELDS},
    **{name: pa.bool_() for name in RUN_FLAG_FIELDS},
}
REASON_FIELD = "sync_trigger_reason"
REASON_DETAIL_TYPES: dict[str, pa.DataType] = {"ui_tag": pa.string(), "ui_detail": pa.string()}
DELETED = "_deleted"  # hard-delete flag: a re-loaded run without a reason drops its old row
LOAD_ID = "_dlt_load_id"
RUNS = "sync_runs"
REASONS = "sync_runs__sync_trigger_reason"

# never taken from API data: they would overwrite the columns this module sets itself
_RESERVED = frozenset({REASON_FIELD, "sync_run_id", DELETED, LOAD_ID})
_REQUIRED = frozenset({"id", "sync_id", "created_at", "sync_run_id", LOAD_ID})
_KINDS: dict[pa.DataType, Kind] = {
    TIMESTAMP: "timestamp",
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.bool_(): "bool",
    pa.string(): "text",
}
# the Python type every value of a column must have for the vectorized build
_FAST_TYPES: dict[pa.DataType, type] = {
    TIMESTAMP: str,
    pa.int64(): int,
    pa.float64(): float,
    pa.bool_(): bool,
    pa.string(): str,
}
_VARIANT_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "json": pa.string(),  # JSON text
}
_EXACT_DOUBLE = 2**53
_YEAR_ONE_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z: Python's first instant
_NONE = type(None)


class KnownTypes:
    """The type of each column of one table: the schema's (earlier loads), else the type this
    load already gave it (the schema learns an Arrow page's columns only after extract)."""

    def __init__(self, schema: Schema, table: str) -> None:
        self._schema, self._table = schema, table
        self._given: dict[str, str] = {}

    def __call__(self, name: str) -> str | None:
        columns = self._schema.tables.get(self._table, {}).get("columns", {})
        column = columns.get(self._schema.naming.normalize_identifier(name), {})
        return column.get("data_type") or self._given.get(name)

    def give(self, name: str, data_type: str) -> None:
        """Record the type this load gave a column."""
        self._given.setdefault(name, data_type)


def runs_table(
    runs: list[dict[str, Any]],
    load_id: str,
    known: KnownTypes,
    tally: VerbatimTally,
    id_type: IdType = "bigint",
) -> pa.Table:
    """The `sync_runs` rows of one page; `known` holds the column types of this table so far.

    Ids must already be values of `id_type` (see ids.py).
    """
    types = RUN_TYPES
    if id_type != "bigint":
        types = {**RUN_TYPES, "id": ID_TYPES[id_type], "sync_id": ID_TYPES[id_type]}
    ids = [run["id"] for run in runs]
    columns = _documented_columns(runs, types, _Kept(RUNS, tally, ids))
    extra = _keys(runs) - RUN_TYPES.keys() - _RESERVED
    if extra:
        columns.update(_extra_columns(runs, extra, known, _Kept(RUNS, tally, ids)))
    columns[LOAD_ID] = pa.array([load_id] * len(runs), pa.string())
    return _table(columns)


def reasons_table(
    runs: list[dict[str, Any]],
    load_id: str,
    known: KnownTypes,
    tally: VerbatimTally,
    id_type: IdType = "bigint",
) -> pa.Table:
    """One row per run: its trigger reason, or a tombstone that deletes a stale reason row.

    A reason that is not an object lands in a `value` column (typed as an unknown field).
    """
    reasons = [run.get(REASON_FIELD) for run in runs]
    rows = [
        reason if isinstance(reason, dict) else {} if reason is None else {"value": reason}
        for reason in reasons
    ]
    ids = [run["id"] for run in runs]
    kept = _Kept(REASONS, tally, ids)
    columns = {"sync_run_id": pa.array(ids, ID_TYPES[id_type])}
    columns.update(_documented_columns(rows, REASON_DETAIL_TYPES, kept))
    extra = _keys(rows) - REASON_DETAIL_TYPES.keys() - _RESERVED
    if extra:
        columns.update(_extra_columns(rows, extra, known, kept))
    columns[DELETED] = pa.array([reason is None for reason in reasons], pa.bool_())
    columns[LOAD_ID] = pa.array([load_id] * len(runs), pa.string())
    return _table(columns)


class _Kept:
    """Where one table's values kept verbatim are counted, with a run id as the example."""

    def __init__(self, table: str, tally: VerbatimTally, ids: list[Any]) -> None:
        self.table, self.tally, self.ids = table, tally, ids

    def variants(self, name: str, fitted: list[Any]) -> dict[str, pa.Array]:
        """Variant columns of `name` for the `Verbatim` entries of `fitted`, counted."""
        columns: dict[str, pa.Array] = {}
        for suffix in sorted({f.suffix for f in fitted if isinstance(f, Verbatim)}):
            values = [
                f.value if isinstance(f, Verbatim) and f.suffix == suffix else None for f in fitted
            ]
            first = next(i for i, value in enumerate(values) if value is not None)
            count = len(values) - values.count(None)
            self.tally.note(self.table, name, self.ids[first], suffix, count)
            columns[f"{name}__v_{suffix}"] = pa.array(values, _VARIANT_TYPES[suffix])
        return columns


def _table(columns: dict[str, pa.Array]) -> pa.Table:
    fields = [
        pa.field(name, array.type, nullable=name not in _REQUIRED)
        for name, array in columns.items()
    ]
    return pa.Table.from_arrays(list(columns.values()), schema=pa.schema(fields))


def _keys(rows: list[dict[str, Any]]) -> set[str]:
    keys: set[str] = set()
    for row in rows:
        keys.update(row)
    return keys


def _documented_columns(
    rows: list[dict[str, Any]], types: dict[str, pa.DataType], kept: _Kept
) -> dict[str, pa.Array]:
    """Typed arrays of the documented fields, plus variant arrays for values that do not fit."""
    values_of = {name: list(map(dict.get, rows, repeat(name))) for name in types}  # C speed
    times = [n for n, kind in types.items() if kind == TIMESTAMP and _all_are(values_of[n], str)]
    typed = _instants(times, values_of)
    variants: dict[str, pa.Array] = {}
    for name, kind in types.items():
        if name in typed:
            continue
        values = values_of[name]
        fast = None if kind == TIMESTAMP else _vectorized(values, kind)
        if fast is not None:
            typed[name] = fast
            continue
        fitted = [fit(_KINDS[kind], value) for value in values]
        typed[name] = pa.array([None if isinstance(f, Verbatim) else f for f in fitted], kind)
        variants.update(kept.variants(name, fitted))
    return {**{name: typed[name] for name in types}, **variants}


def _all_are(values: list[Any], kind: type) -> bool:
    present = set(map(type, values))
    present.discard(_NONE)
    return present <= {kind}


def _vectorized(values: list[Any], kind: pa.DataType) -> pa.Array | None:
    """The column in one step when every value already has its type; None when it can't be."""
    if not _all_are(values, _FAST_TYPES[kind]):
        return None
    try:
        return pa.array(values, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # an int beyond int64
        return None


def _instants(names: list[str], values_of: dict[str, list[Any]]) -> dict[str, pa.Array]:
    """The timestamp columns of `names` that Arrow casts, all in one cast when it can.

    Arrow's cast reads a subset of what fromisoformat reads, and reads it the same way
    (tests/test_values.py), but for year 0. Few compute calls per page matter: each one lets
    the reader threads take the GIL.
    """
    if not names:
        return {}
    size = len(values_of[names[0]])
    try:
        strings = pa.array([v for name in names for v in values_of[name]], pa.string())
        instants = pc.cast(strings, TIMESTAMP)
        earliest = pc.min(instants)
        readable = not (earliest.is_valid and earliest.value < _YEAR_ONE_US)
    except pa.ArrowInvalid:
        readable = False
    if readable:
        return {name: instants.slice(i * size, size) for i, name in enumerate(names)}
    if len(names) == 1:
        return {}
    # one column Arrow cannot read: find it, keep the others fast
    return {k: v for name in names for k, v in _instants([name], values_of).items()}


def _extra_columns(
    rows: list[dict[str, Any]], extra: set[str], known: KnownTypes, kept: _Kept
) -> dict[str, pa.Array]:
    """Columns of the fields the docs don't list, typed as dlt types them: the schema's type,
    else the first value's own; values of another type are fitted to it or kept verbatim."""
    # most rows carry none of them (e.g. a reason's rare `ui_link`): find the others in C
    carriers = list(compress(range(len(rows)), map(not_, map(extra.isdisjoint, rows))))
    flat = [_flatten({k: rows[i][k] for k in extra if k in rows[i]}) for i in carriers]
    names = dict.fromkeys(name for row in flat for name in row)
    columns: dict[str, pa.Array] = {}
    for name in names:
        carried = [
            float(v) if type(v) is int and abs(v) <= _EXACT_DOUBLE else v  # numbers are doubles
            for v in map(dict.get, flat, repeat(name))
        ]
        first = next((v for v in carried if v is not None), None)
        if first is None:  # all null on this page: nothing to type yet
            continue
        values: list[Any] = [None] * len(rows)
        for i, value in zip(carriers, carried, strict=True):
            values[i] = value
        data_type = known(name) or _own_kind(first)
        known.give(name, data_type)
        kind = _UNKNOWN_KINDS.get(data_type)
        if kind == "timestamp":
            fast = _instants([name], {name: values}).get(name) if _all_are(values, str) else None
        else:
            fast = None if kind is None else _vectorized(values, _ARROW_OF[kind])
        if fast is not None:
            columns[name] = fast
            continue
        if kind is None:  # a type this module never makes: every value keeps its own
            fitted = [None if v is None else verbatim(v) for v in values]
        else:
            fitted = [fit(kind, v) for v in values]
            typed = [None if isinstance(f, Verbatim) else f for f in fitted]
            columns[name] = pa.array(typed, _ARROW_OF[kind])
        columns.update(kept.variants(name, fitted))
    return columns


_UNKNOWN_KINDS: dict[str, Kind] = {
    "text": "text",
    "double": "double",
    "bool": "bool",
    "bigint": "bigint",
    "timestamp": "timestamp",
}
_ARROW_OF: dict[Kind, pa.DataType] = {kind: arrow for arrow, kind in _KINDS.items()}


def _own_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "text" if isinstance(value, str) else "double"


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{name}__"))
        else:
            flat[name] = _text(value) if isinstance(value, list | Mapping) else value
    return flat


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
