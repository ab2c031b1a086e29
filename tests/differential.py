"""The differential harness: the same pages through a source's own path and through dlt's
normalizer, into two DuckDB files, compared value by value (issue 12).

The reference side is dlt's normalizer on plain dict rows with the same column hints, after
`documented_form`: the small mapping of the places where our rule deliberately differs from
dlt's coercion (README, "Values that do not fit"). Everything else must be equal as is.
"""

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.destinations.exceptions import DatabaseUndefinedRelation

INT64 = (-(2**63), 2**63 - 1)
EXACT_DOUBLE = 2**53
_DIGITS = re.compile(r"\s*[+-]?\d+\s*")
_DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_FLAGS = ("true", "false")

Snapshot = dict[str, dict[Any, dict[str, Any]]]
TableItems = Callable[[], Iterator[Any]]


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _reads_as_instant(text: str) -> bool:
    from datetime import datetime

    if re.search(r"[.,]\d{7}", text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def documented_form(kind: str, value: Any) -> tuple[str, Any] | None:
    """Where our rule puts `value` of a `kind` column when dlt would coerce it otherwise:
    (`""` for the column itself or `__v_<type>`, value); None where dlt's normalizer agrees."""
    if value is None:
        return None
    if isinstance(value, dict | list):  # dlt flattens or makes a child table; {} vanishes
        return "__v_json", json_text(value)
    if isinstance(value, bool):
        return ("__v_bool", value) if kind == "text" else None  # dlt: "True"
    if isinstance(value, int):
        return _int_form(kind, value)
    if isinstance(value, float):
        if kind == "bigint" and value.is_integer() and abs(value) > EXACT_DOUBLE:
            return "__v_double", value
        if kind in ("bool", "timestamp"):  # dlt: truthiness; epoch seconds
            return "__v_double", value
        return None
    return _text_form(kind, value)


def _int_form(kind: str, value: int) -> tuple[str, Any] | None:
    huge = not INT64[0] <= value <= INT64[1]
    if kind == "text":
        return ("", str(value)) if huge else None
    if huge:  # dlt fails the whole load
        return "__v_text", str(value)
    if kind == "bool" and value not in (0, 1):
        return "__v_bigint", value
    if kind == "timestamp" or (kind == "double" and abs(value) > EXACT_DOUBLE):
        return "__v_bigint", value
    return None


def _text_form(kind: str, value: str) -> tuple[str, Any] | None:
    if kind == "bigint":
        fits = bool(_DIGITS.fullmatch(value)) and INT64[0] <= int(value) <= INT64[1]
    elif kind == "double":
        fits = bool(_DECIMAL.fullmatch(value)) and abs(float(value)) != float("inf")
    elif kind == "bool":
        fits = value.strip().lower() in _FLAGS
    elif kind == "timestamp":
        fits = _reads_as_instant(value)
    else:
        fits = True
    return None if fits else ("__v_text", value)


def apply_form(row: dict[str, Any], column: str, kind: str, key: str | None = None) -> None:
    """Rewrite `row[key]` (the field of `column`) into the place our rule gives it."""
    key = column if key is None else key
    if key not in row:
        return
    form = documented_form(kind, row[key])
    if form is None:
        return
    suffix, value = form
    del row[key]
    row[f"{column}{suffix}"] = value


def huge_ints_as_text(value: Any) -> Any:
    """The documented form of integers beyond int64 where no column is documented (dlt fails
    the load on them): in an object under `<key>__v_text`, in a list as a `value__v_text` row."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, inner in value.items():
            if _is_huge(inner):
                result[f"{key}__v_text"] = str(inner)
            else:
                result[key] = huge_ints_as_text(inner)
        return result
    if isinstance(value, list):
        return [
            {"value__v_text": str(inner)} if _is_huge(inner) else huge_ints_as_text(inner)
            for inner in value
        ]
    return value


def _is_huge(value: Any) -> bool:
    return type(value) is int and not INT64[0] <= value <= INT64[1]


def load(path: Path, name: str, tables: Iterable[Any], detect_timestamps: bool = True) -> Any:
    """Run the resources into `path/name.duckdb`; return the pipeline."""
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(path / f"{name}_pipelines"),
        destination=dlt.destinations.duckdb(str(path / f"{name}.duckdb")),
        dataset_name="ds",
    )
    schema = dlt.Schema(name)
    if not detect_timestamps:
        schema.remove_type_detection("iso_timestamp")
    pipeline.run(list(tables), schema=schema)
    return pipeline


def snapshot(pipeline: Any, keys: dict[str, str]) -> Snapshot:
    """Every table of `keys` as {key: {column: non-null value}} (dlt's own columns left out).

    A key is a SQL expression over the table aliased `t`; one naming `p.` joins the parent of
    a child table `parent__child` as `p`.
    """
    result: Snapshot = {}
    with pipeline.sql_client() as client:
        for table, key in keys.items():
            if table not in pipeline.default_schema.tables:
                result[table] = {}
                continue
            name = client.make_qualified_table_name(table)
            join = ""
            if "p." in key:
                parent = client.make_qualified_table_name(table.rsplit("__", 1)[0])
                join = f" JOIN {parent} p ON t._dlt_parent_id = p._dlt_id"
            try:
                with client.execute_query(f"SELECT {key} AS _key, t.* FROM {name} t{join}") as cur:
                    columns = [d[0] for d in cur.description]
                    fetched = cur.fetchall()
            except DatabaseUndefinedRelation:  # in the schema, never loaded: no rows
                fetched, columns = [], []
            rows: dict[Any, dict[str, Any]] = {}
            for raw in fetched:
                record = dict(zip(columns, raw, strict=True))
                row_key = record.pop("_key")
                assert row_key not in rows, f"{table}: key {row_key} twice"
                rows[row_key] = {
                    c: v for c, v in record.items() if v is not None and not c.startswith("_")
                }
            result[table] = rows
    return result


def column_types(pipeline: Any, table: str) -> dict[str, str]:
    """dlt data types of a table's columns that hold a value."""
    columns: TTableSchemaColumns = pipeline.default_schema.tables.get(table, {}).get("columns", {})
    return {n: str(c.get("data_type")) for n, c in columns.items() if not n.startswith("_")}


def assert_same(ours: Snapshot, reference: Snapshot) -> None:
    """Equal table by table, row by row, value by value; the first difference named."""
    for table in reference:
        assert sorted(ours[table], key=repr) == sorted(reference[table], key=repr), table
        for key, expected in reference[table].items():
            got = ours[table][key]
            differ = {
                c: (got.get(c), expected.get(c))
                for c in set(got) | set(expected)
                if not _equal(got.get(c), expected.get(c))
            }
            assert not differ, f"{table} row {key}: ours vs dlt {differ}"


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b
