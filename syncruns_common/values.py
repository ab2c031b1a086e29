"""Fit one API value to its documented column type, or keep it verbatim for a variant column.

The rule, the same in all three sources (README, "Values that do not fit"):
- timestamp: an ISO 8601 string as Python's `datetime.fromisoformat` reads it
  (`2024-01-03T16:46:04.807Z`; an offset such as `+05:30` as that instant; no zone as UTC; a
  date as midnight UTC), at most microsecond precision. Never a bare number (seconds or ms?).
- bigint: an integer in int64, a float with an integral value (`12.0`), a string of digits
  (`"12"`, surrounding blanks allowed).
- double: an integer or a float, a decimal string (`"0.5"`).
- bool: `true`/`false`, the strings `"true"`/`"false"` (any case), the integers 0 and 1.
- text: a string; a number as its JSON text (`5` as `"5"`).
Anything else lands unchanged in `{column}__v_{type}` (`text`, `bigint`, `double`, `bool`, or
`json` holding JSON text), where dlt's normalizer puts a value of another type.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["timestamp", "bigint", "double", "bool", "text"]
KINDS: frozenset[str] = frozenset({"timestamp", "bigint", "double", "bool", "text"})

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_EXACT_FLOAT_INT = 2**53  # beyond it a float no longer names one integer
_DIGITS = re.compile(r"\s*[+-]?\d+\s*")
_DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
# Python reads them, but would cut the digits past microseconds silently
_SUB_MICROSECOND = re.compile(r"[.,]\d{7}")
_FLAGS = {"true": True, "false": False}


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A value that does not fit its column: it lands as `value` in `{column}__v_{suffix}`."""

    suffix: str
    value: Any


def verbatim(value: Any) -> Verbatim:
    """The variant a value keeps: its own JSON type, objects and arrays as JSON text."""
    if isinstance(value, bool):
        return Verbatim("bool", value)
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return Verbatim("bigint", value)
        return Verbatim("text", str(value))  # no warehouse integer holds it: its exact digits
    if isinstance(value, float):
        return Verbatim("double", value)
    if isinstance(value, str):
        return Verbatim("text", value)
    return Verbatim("json", json_text(value))


def json_text(value: Any) -> str:
    """JSON text of an object or array, unicode kept as is (huge integers stay exact)."""
    return json.dumps(value, ensure_ascii=False)


def fit(kind: Kind, value: Any) -> Any:
    """`value` as a Python value of `kind`, or a `Verbatim` when it does not mean one."""
    if value is None:
        return None
    typed = _FITTERS[kind](value)
    return verbatim(value) if typed is _UNFIT else typed


_UNFIT: Any = object()


def _timestamp(value: Any) -> Any:
    if type(value) is not str:
        return _UNFIT
    try:
        return parse_iso_instant(value)
    except ValueError:
        return _UNFIT


def parse_iso_instant(text: str) -> datetime:
    """An ISO 8601 string as an aware UTC instant (no zone means UTC); ValueError otherwise.

    What Python's `datetime.fromisoformat` reads, less sub-microsecond digits.
    """
    if len(text) > 26 and _SUB_MICROSECOND.search(text):  # shorter: no room for 7 digits
        raise ValueError(f"more than microsecond precision: {text!r}")
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _bigint(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float:
        if not value.is_integer() or abs(value) > _EXACT_FLOAT_INT:
            return _UNFIT
        number = int(value)
    elif kind is str and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return _UNFIT
    return number if INT64_MIN <= number <= INT64_MAX else _UNFIT


def _double(value: Any) -> Any:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return float(value) if abs(value) <= _EXACT_FLOAT_INT else _UNFIT
    if kind is str and _DECIMAL.fullmatch(value):
        number = float(value)
        return number if abs(number) != float("inf") else _UNFIT
    return _UNFIT


def _bool(value: Any) -> Any:
    kind = type(value)
    if kind is bool:
        return value
    if kind is int and value in (0, 1):
        return bool(value)
    if kind is str:
        return _FLAGS.get(value.strip().lower(), _UNFIT)
    return _UNFIT


def _text(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is float:
        return str(value)
    return _UNFIT


_FITTERS = {
    "timestamp": _timestamp,
    "bigint": _bigint,
    "double": _double,
    "bool": _bool,
    "text": _text,
}
