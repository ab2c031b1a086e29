"""Rows for dlt's normalizer with every documented value typed or moved to its variant column.

dlt's normalizer alone would coerce some values lossily (a flag of 5 becomes true, `"0x1A"` a
count of 26, an epoch number a timestamp), flatten an object in a text column, and fail the
whole load on an integer beyond int64; this pass applies the one rule of values.py first.
"""

from collections.abc import Mapping
from typing import Any, cast

from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.schema.typing import TTableSchemaColumns

from syncruns_common.values import INT64_MAX, INT64_MIN, KINDS, Kind, Verbatim, fit, json_text
from syncruns_common.verbatim import VerbatimTally

Row = dict[str, Any]


def kinds_of(columns: TTableSchemaColumns) -> dict[str, Kind]:
    """The fitted kind of each hinted column whose type values.py knows (json takes anything)."""
    return {
        name: cast(Kind, column["data_type"])
        for name, column in columns.items()
        if column.get("data_type") in KINDS
    }


class RowGuard:
    """Copies of one table's rows with the documented columns typed, counting what is kept.

    `kinds` maps column names (as dlt names them: `planned_rows__added_count`) to their type;
    nested objects on the way to such a column are walked. `text_lists` are columns holding a
    list of strings (a child table with a `value` column): an entry that is not a string or
    number becomes a child row with its value in `value__v_bool` / `value__v_json`.
    `object_lists` are columns holding a list of objects (a child table as dlt unpacks it):
    one that is not a list at all is kept as `{column}__v_json`. `id_key` names the field whose
    value is logged as the example. The input rows are not changed: a
    reader may still look at them after yielding.
    """

    def __init__(
        self,
        table: str,
        kinds: Mapping[str, Kind],
        tally: VerbatimTally,
        text_lists: frozenset[str] = frozenset(),
        id_key: str = "id",
        object_lists: frozenset[str] = frozenset(),
    ) -> None:
        self._table = table
        self._id_key = id_key
        self._kinds = dict(kinds)
        self._tally = tally
        self._text_lists = text_lists
        self._object_lists = object_lists
        self._groups = {name.rsplit("__", 1)[0] for name in kinds if "__" in name}
        self._naming = NamingConvention()
        self._names: dict[tuple[str, str], str] = {}

    def guard(self, rows: list[Row]) -> list[Row]:
        """New rows, values typed or moved to their variant columns."""
        guarded = []
        for row in rows:
            copy = dict(row)
            self._walk(copy, copy, "")
            guarded.append(copy)
        return guarded

    def _name(self, prefix: str, key: str) -> str:
        name = self._names.get((prefix, key))
        if name is None:
            name = prefix + self._naming.normalize_identifier(key)
            self._names[(prefix, key)] = name
        return name

    def _walk(self, row: Row, container: dict[str, Any], prefix: str) -> None:
        for key in list(container):
            value = container[key]
            if value is None:
                continue
            name = self._name(prefix, key)
            kind = self._kinds.get(name)
            if kind is not None:
                fitted = fit(kind, value)
                if isinstance(fitted, Verbatim):
                    del container[key]
                    self._keep(row, name, fitted)
                elif fitted is not value:
                    container[key] = fitted
            elif name in self._text_lists:
                self._text_list(row, container, key, name)
            elif name in self._object_lists and not isinstance(value, list):
                del container[key]  # dlt would flatten an object into columns ({} vanishes)
                self._keep(row, name, Verbatim("json", json_text(value)))
            elif name in self._groups and isinstance(value, dict):
                container[key] = nested = dict(value)
                self._walk(row, nested, f"{name}__")
            elif isinstance(value, int | dict | list):
                kept = _huge_ints_as_text(value)
                if kept is not value:
                    self._tally.note(self._table, name, row.get(self._id_key), "text")
                    if isinstance(kept, str):
                        del container[key]
                        key = f"{key}__v_text"
                    container[key] = kept

    def _keep(self, row: Row, name: str, kept: Verbatim) -> None:
        row[f"{name}__v_{kept.suffix}"] = kept.value
        self._tally.note(self._table, name, row.get(self._id_key), kept.suffix)

    def _text_list(self, row: Row, container: dict[str, Any], key: str, name: str) -> None:
        entries = container[key]
        if not isinstance(entries, list):
            del container[key]
            self._keep(row, name, Verbatim("json", json_text(entries)))
            return
        container[key] = entries = list(entries)
        for index, entry in enumerate(entries):
            if type(entry) is int and not INT64_MIN <= entry <= INT64_MAX:
                entries[index] = str(entry)  # a text column takes a number as its digits
                continue
            if isinstance(entry, bool):
                kept = Verbatim("bool", entry)
            elif isinstance(entry, dict | list):
                kept = Verbatim("json", json_text(entry))
            else:
                continue
            entries[index] = {f"value__v_{kept.suffix}": kept.value}
            self._tally.note(f"{self._table}__{name}", "value", row.get(self._id_key), kept.suffix)


def _huge_ints_as_text(value: Any) -> Any:
    """`value` with every integer beyond int64 in it as its digits (a copy only if one is).

    dlt fails the whole load on such an integer anywhere, in fields nobody documented too. In
    an object it moves to `<key>__v_text`; in a list it becomes a `{"value__v_text": ...}` row.
    """
    if type(value) is int:
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, dict):
        changed: dict[str, Any] | None = None
        for key, inner in value.items():
            kept = _huge_ints_as_text(inner)
            if kept is not inner:
                changed = dict(value) if changed is None else changed
                if isinstance(kept, str) and type(inner) is int:
                    del changed[key]
                    changed[f"{key}__v_text"] = kept
                else:
                    changed[key] = kept
        return value if changed is None else changed
    if isinstance(value, list):
        entries: list[Any] | None = None
        for index, inner in enumerate(value):
            kept = _huge_ints_as_text(inner)
            if kept is not inner:
                entries = list(value) if entries is None else entries
                huge = isinstance(kept, str) and type(inner) is int
                entries[index] = {"value__v_text": kept} if huge else kept
        return value if entries is None else entries
    return value
