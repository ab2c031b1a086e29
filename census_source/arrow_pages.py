"""Pages of runs as typed Arrow tables: the fast loader path (no per-row normalizing in dlt).

Documented fields get fixed types. Fields the docs don't list pass through: numbers as double
(so the type never depends on which runs share a batch), nested objects flattened with `__`,
lists as JSON text, and a value whose type disagrees with the column already in the schema
goes to a variant column (`name__v_text`), as dlt does for dicts: an API change never fails a
load.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common import logger

from census_source.tables import RUN_COUNT_FIELDS, RUN_FLAG_FIELDS, RUN_TEXT_FIELDS, RUN_TIME_FIELDS
from census_source.versions import IdType

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

# never taken from API data: they would overwrite the columns this module sets itself
_RESERVED = frozenset({REASON_FIELD, "sync_run_id", DELETED, LOAD_ID})
_REQUIRED = frozenset({"id", "sync_id", "created_at", "sync_run_id", LOAD_ID})
_DLT_TYPES: dict[str, str] = {"bool": "bool", "int64": "bigint", "double": "double"}
ColumnTypes = Callable[[str], str | None]


def runs_table(
    runs: list[dict[str, Any]], load_id: str, known: ColumnTypes, id_type: IdType = "bigint"
) -> pa.Table:
    """The `sync_runs` rows of one page; `known(column)` gives the schema's current type.

    Ids must already be values of `id_type` (see ids.py).
    """
    types = RUN_TYPES
    if id_type != "bigint":
        types = {**RUN_TYPES, "id": ID_TYPES[id_type], "sync_id": ID_TYPES[id_type]}
    columns = _documented_columns(runs, types)
    extra = _keys(runs) - RUN_TYPES.keys() - _RESERVED
    if extra:
        columns.update(_extra_columns(runs, extra, known))
    columns[LOAD_ID] = pa.array([load_id] * len(runs), pa.string())
    return _table(columns)


def reasons_table(
    runs: list[dict[str, Any]], load_id: str, known: ColumnTypes, id_type: IdType = "bigint"
) -> pa.Table:
    """One row per run: its trigger reason, or a tombstone that deletes a stale reason row."""
    reasons = [run.get(REASON_FIELD) for run in runs]
    rows = [
        reason if isinstance(reason, dict) else {} if reason is None else {"value": reason}
        for reason in reasons
    ]
    columns = {"sync_run_id": pa.array([run["id"] for run in runs], ID_TYPES[id_type])}
    columns.update(_documented_columns(rows, REASON_DETAIL_TYPES))
    extra = _keys(rows) - REASON_DETAIL_TYPES.keys() - _RESERVED
    if extra:
        columns.update(_extra_columns(rows, extra, known))
    columns[DELETED] = pa.array([reason is None for reason in reasons], pa.bool_())
    columns[LOAD_ID] = pa.array([load_id] * len(runs), pa.string())
    return _table(columns)


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
    rows: list[dict[str, Any]], types: dict[str, pa.DataType]
) -> dict[str, pa.Array]:
    """Typed arrays of the documented fields; timestamps are parsed as instants by Arrow."""
    staged = pa.schema(
        [(name, pa.string() if kind == TIMESTAMP else kind) for name, kind in types.items()]
    )
    try:
        table = pa.Table.from_pylist(rows, schema=staged)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return {
            name: _typed([row.get(name) for row in rows], kind, name)
            for name, kind in types.items()
        }
    return {
        name: _timestamps(table.column(name), name)
        if kind == TIMESTAMP
        else table.column(name).combine_chunks()
        for name, kind in types.items()
    }


def _typed(values: list[Any], kind: pa.DataType, name: str) -> pa.Array:
    """One column, value by value: the slow path for pages with values of the wrong type."""
    if kind == TIMESTAMP:
        return _timestamps(pa.array([None if v is None else str(v) for v in values]), name)
    try:
        return pa.array(values, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        logger.warning(f"Column {name} holds values that are not {kind}; loading them as null")
        return pa.array([_coerce(value, kind) for value in values], kind)


def _coerce(value: Any, kind: pa.DataType) -> Any:
    try:
        return pa.scalar(value, kind).as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return None


def _timestamps(strings: pa.Array | pa.ChunkedArray, name: str) -> pa.Array:
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    try:
        return pc.cast(strings, TIMESTAMP)
    except pa.ArrowInvalid:
        logger.warning(f"Column {name} holds values that are not ISO timestamps; loading as null")
        return pa.array([_coerce(value, TIMESTAMP) for value in strings.to_pylist()], TIMESTAMP)


def _extra_columns(
    rows: list[dict[str, Any]], extra: set[str], known: ColumnTypes
) -> dict[str, pa.Array]:
    flat = [_flatten({key: row[key] for key in extra if key in row}) for row in rows]
    names: dict[str, None] = {}
    for row in flat:
        names.update(dict.fromkeys(row))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [row.get(name) for row in flat]
        array = _infer(values)
        if array is None:  # all null on this page: nothing to type yet
            continue
        dlt_type = _DLT_TYPES.get(str(array.type), "text")
        existing = known(name)
        if existing is None or existing == dlt_type:
            columns[name] = array
        elif existing == "text":
            columns[name] = pa.array([None if v is None else _text(v) for v in values], pa.string())
        else:
            columns[f"{name}__v_{dlt_type}"] = array
    return columns


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}__"))
        else:
            flat[name] = _text(value) if isinstance(value, list) else value
    return flat


def _infer(values: Iterable[Any]) -> pa.Array | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    kinds = {type(v) for v in present}
    values = list(values)
    if kinds == {bool}:
        return pa.array(values, pa.bool_())
    if kinds <= {int, float}:  # always double: an int-only batch must not fix the column type
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
