"""Seeded odd payloads: values real vendors send that nobody designed, with their ground truth.

Two families of kinds:

- Same-meaning encodings (:data:`WIRE_KINDS`) change only the JSON a simulator serves; the
  world's stored run keeps its value, so its ground truth stays right. Whether a field of a run
  is encoded, and how, depends only on (seed, run id, field): a run served twice (a list page,
  then by id) is encoded the same way. About ``rate`` of the fields eligible for a kind get it.
- Unfit values (:data:`STORED_KINDS`) are stored in about ``rate`` of the runs a world
  generates, one field each, so the ground truth holds them verbatim.

A vendor names the fields each kind may hit in an :class:`OddFields`; a world keeps one
:class:`OddInjector` built from the user's :class:`OddValues` and its :class:`OddFields`.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

__all__ = [
    "ALL_ODD_KINDS",
    "STORED_KINDS",
    "WIRE_KINDS",
    "OddEncoding",
    "OddFields",
    "OddInjector",
    "OddValue",
    "OddValues",
    "parsed_or_none",
]

COUNT_AS_STRING: Final = "count_as_string"
COUNT_AS_FLOAT: Final = "count_as_float"
TIMESTAMP_WITH_OFFSET: Final = "timestamp_with_offset"
TIMESTAMP_NAIVE: Final = "timestamp_naive"
FLAG_AS_STRING: Final = "flag_as_string"
WIRE_KINDS: Final = (
    COUNT_AS_STRING,
    COUNT_AS_FLOAT,
    TIMESTAMP_WITH_OFFSET,
    TIMESTAMP_NAIVE,
    FLAG_AS_STRING,
)
"""Same-meaning encodings: served only, the stored run is unchanged."""

EMPTY_STRING: Final = "empty_string"
WHITESPACE: Final = "whitespace"
OBJECT_IN_TEXT: Final = "object_in_text"
BOOL_IN_COUNT: Final = "bool_in_count"
UNKNOWN_STATUS: Final = "unknown_status"
UNICODE_TEXT: Final = "unicode_text"
HUGE_INT: Final = "huge_int"
STRING_IN_FLAG: Final = "string_in_flag"
FLOAT_IN_COUNT: Final = "float_in_count"
STORED_KINDS: Final = (
    EMPTY_STRING,
    WHITESPACE,
    OBJECT_IN_TEXT,
    BOOL_IN_COUNT,
    UNKNOWN_STATUS,
    UNICODE_TEXT,
    HUGE_INT,
    STRING_IN_FLAG,
    FLOAT_IN_COUNT,
)
"""Unfit values: stored in the world's run, served as stored."""

ALL_ODD_KINDS: Final = WIRE_KINDS + STORED_KINDS

UNKNOWN_STATUSES: Final = ("paused_by_vendor", "requeued_after_maintenance", "STALLED")
"""Statuses no vendor documents; every simulator treats them as open."""

_OFFSETS_MIN: Final = (330, -480, 0, 540, -210, 345, -720, 840)
"""+05:30, -08:00, +00:00, +09:00, -03:30, +05:45, -12:00, +14:00."""
_UTC_TIMESTAMP: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?(?:Z|\+00:00)"
)
_INT64: Final = 2**63
_EXACT_FLOAT: Final = 2**53

_WHITESPACE_VALUES: Final = ("  ", " \t ", "\n")
_OBJECTS: Final[tuple[dict[str, Any], ...]] = (
    {"code": "E42", "detail": {"row": 3}},
    {"message": "quota exceeded", "retry": True, "codes": [429, 503]},
    {"error": None, "nested": {"list": [1, "two", {"three": 3.5}]}},
)
_UNICODE_VALUES: Final = (
    "Sync 🚀 finished \u202edeliaf\u202c ✓",
    "Zoe\u0301 cafe\u0301 n\u0303 a\u0308\u0308\u0308 — combining marks",
    "bell\u0007 and escape\u001b[31m red",
    "👩\u200d💻 עברית mixed with English \u202e",
    "\ufeffBOM first, then astral \U0001d518\U0001d52b and 中文",
)
_HUGE_INTS: Final = (2**70, 2**64 + 7, -(2**63) - 1, 10**30)
_FLAG_STRINGS: Final = ("yes", "no", "on", "N")


class OddValue(NamedTuple):
    """An unfit value stored in a run: ``field`` as the API spells it (dotted when nested)."""

    run_id: int
    field: str
    value: Any


class OddEncoding(NamedTuple):
    """A same-meaning encoding: ``field`` of run ``run_id`` is served as ``served``."""

    run_id: int
    field: str
    kind: str
    served: Any


@dataclass(frozen=True)
class OddFields:
    """Which fields of a vendor's run each kind may hit (dotted paths for nested fields).

    ``counts``: integer counts (every count kind). ``timestamps``: UTC timestamps no reader
    parses for a cursor (both timestamp encodings; ``empty_string`` / ``whitespace`` when not
    null). ``cursor_timestamps``: timestamps a reader parses itself: only the same-instant
    encodings. ``flags``: booleans. ``texts``: documented text fields (``object_in_text``,
    ``unicode_text``). ``status``: the status field (``unknown_status``), None for none.
    Ids and the created-at field used for paging belong in none of them.
    """

    counts: tuple[str, ...] = ()
    timestamps: tuple[str, ...] = ()
    cursor_timestamps: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    status: str | None = "status"

    def wire_fields(self, kind: str) -> tuple[str, ...]:
        """The fields a same-meaning encoding may hit."""
        if kind in (COUNT_AS_STRING, COUNT_AS_FLOAT):
            return self.counts
        if kind in (TIMESTAMP_WITH_OFFSET, TIMESTAMP_NAIVE):
            return self.timestamps + self.cursor_timestamps
        if kind == FLAG_AS_STRING:
            return self.flags
        return ()

    def stored_fields(self, kind: str) -> tuple[str, ...]:
        """The fields an unfit value may be stored in."""
        if kind in (EMPTY_STRING, WHITESPACE):
            return self.counts + self.timestamps
        if kind in (OBJECT_IN_TEXT, UNICODE_TEXT):
            return self.texts
        if kind in (BOOL_IN_COUNT, HUGE_INT, FLOAT_IN_COUNT):
            return self.counts
        if kind == STRING_IN_FLAG:
            return self.flags
        if kind == UNKNOWN_STATUS:
            return () if self.status is None else (self.status,)
        return ()

    def fields_of(self, kind: str) -> tuple[str, ...]:
        """The fields ``kind`` (of either family) may hit."""
        return self.wire_fields(kind) if kind in WIRE_KINDS else self.stored_fields(kind)

    def applicable_kinds(self) -> tuple[str, ...]:
        """The kinds that can hit at least one field of this vendor, in ALL_ODD_KINDS order."""
        return tuple(kind for kind in ALL_ODD_KINDS if self.fields_of(kind))


class OddValues:
    """How often and which odd values a world sends: ``rate`` in [0, 1], seeded by ``seed``.

    ``kinds`` (any of :data:`ALL_ODD_KINDS`, order does not matter) limits what is sent.
    Pass it to a simulator's ``World(..., odd=...)``; ``rate=0`` sends nothing odd.
    """

    def __init__(self, seed: int, rate: float, kinds: Collection[str] = ALL_ODD_KINDS) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate}")
        if isinstance(kinds, str):
            raise ValueError(f"kinds must be a collection of kind names, not {kinds!r}")
        unknown = sorted(set(kinds) - set(ALL_ODD_KINDS))
        if unknown:
            raise ValueError(f"unknown odd kinds {unknown}; known: {', '.join(ALL_ODD_KINDS)}")
        if not kinds:
            raise ValueError("kinds must name at least one odd kind")
        self.seed = seed
        self.rate = rate
        wanted = set(kinds)
        self.kinds: tuple[str, ...] = tuple(kind for kind in ALL_ODD_KINDS if kind in wanted)

    def __repr__(self) -> str:
        return f"OddValues(seed={self.seed}, rate={self.rate}, kinds={self.kinds})"

    def digest(self, *parts: object) -> bytes:
        """16 bytes that depend only on the seed and ``parts``."""
        text = "\n".join(str(part) for part in (self.seed, *parts))
        return hashlib.blake2b(text.encode(), digest_size=16).digest()

    def unit(self, *parts: object) -> float:
        """A number in [0, 1) that depends only on the seed and ``parts``."""
        return int.from_bytes(self.digest(*parts)[:8], "big") / 2**64


class OddInjector:
    """One world's odd values: chooses and applies them, keeps what was stored and the counts.

    ``injected`` counts unfit values when stored and each encoded (run, field) the first time
    it is served. Thread-safe.
    """

    def __init__(self, odd: OddValues, fields: OddFields) -> None:
        self.odd = odd
        self.fields = fields
        self._wire_plan: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            (field, kinds) for field, kinds in _wire_candidates(odd.kinds, fields).items()
        )
        self._stored_kinds = tuple(kind for kind in odd.kinds if kind in STORED_KINDS)
        self._lock = threading.Lock()
        self._stored: dict[int, tuple[str, str, Any]] = {}  # run id -> (field, kind, value)
        self._served: set[tuple[int, str]] = set()
        self._injected: Counter[str] = Counter()

    @property
    def injected(self) -> Counter[str]:
        """A snapshot of how many odd values of each kind were injected so far."""
        with self._lock:
            return Counter(self._injected)

    # ------------------------------------------------------------ unfit values
    def chosen(self, run_id: int) -> bool:
        """Whether a newly generated run gets an unfit value (cheap: no run needed)."""
        return bool(self._stored_kinds) and self.odd.unit("stored", run_id) < self.odd.rate

    def spoil(self, run: dict[str, Any], terminal: bool) -> bool:
        """Store one unfit value in ``run`` (in place) if it is chosen; whether it was.

        An open run (``terminal`` False) can only get ``unknown_status``: the world's lifecycle
        computes with the other fields of open runs.
        """
        run_id = run["id"]
        if not self.chosen(run_id):
            return False
        options: list[tuple[str, list[str]]] = []
        for kind in self._stored_kinds:
            if kind != UNKNOWN_STATUS and not terminal:
                continue
            present = [f for f in self.fields.stored_fields(kind) if _eligible(run, f, kind)]
            if present:
                options.append((kind, present))
        if not options:
            return False
        rng = random.Random(self.odd.digest("stored-pick", run_id))
        kind, present = options[rng.randrange(len(options))]
        field = present[rng.randrange(len(present))]
        value = _unfit_value(kind, rng)
        _set_path(run, field, value)
        with self._lock:
            self._stored[run_id] = (field, kind, copy.deepcopy(value))
            self._injected[kind] += 1
        return True

    def stored_values(self, current: Callable[[int], Mapping[str, Any] | None]) -> list[OddValue]:
        """The unfit values still held by the runs ``current(run_id)`` returns, by run id.

        A value that was overwritten since (the world finished the run, a test updated it)
        is left out.
        """
        with self._lock:
            stored = sorted(self._stored.items())
        values = []
        for run_id, (field, _, value) in stored:
            run = current(run_id)
            if run is None:
                continue
            found, now = _get_path(run, field)
            if found and _same(now, value):
                values.append(OddValue(run_id, field, copy.deepcopy(value)))
        return values

    # ------------------------------------------------------- same-meaning encodings
    def encodings_of(self, runs: Iterable[Mapping[str, Any]]) -> list[OddEncoding]:
        """The same-meaning encodings of every run of ``runs``, in order."""
        return [found for run in runs for found in self.encodings(run)]

    def encodings(self, run: Mapping[str, Any]) -> list[OddEncoding]:
        """The same-meaning encodings ``run`` is served with (nothing is counted)."""
        run_id = run.get("id")
        if not isinstance(run_id, int) or not self._wire_plan:
            return []
        with self._lock:
            stored = self._stored.get(run_id)
        skip = None if stored is None else stored[0]
        found: list[OddEncoding] = []
        for field, kinds in self._wire_plan:
            if field == skip:
                continue
            kind, choice = self._wire_kind(run_id, field, kinds)
            if kind is None:
                continue
            present, value = _get_path(run, field)
            if not present:
                continue
            served = _encode(kind, value, choice)
            if served is not _UNCHANGED:
                found.append(OddEncoding(run_id, field, kind, served))
        return found

    def wire(self, run: Mapping[str, Any]) -> Mapping[str, Any]:
        """``run`` as the API sends it: ``run`` itself when nothing is encoded, else a copy."""
        found = self.encodings(run)
        if not found:
            return run
        served = dict(run)
        for encoding in found:
            _set_path(served, encoding.field, encoding.served)
        with self._lock:
            for encoding in found:
                key = (encoding.run_id, encoding.field)
                if key not in self._served:
                    self._served.add(key)
                    self._injected[encoding.kind] += 1
        return served

    def _wire_kind(self, run_id: int, field: str, kinds: tuple[str, ...]) -> tuple[str | None, int]:
        """The encoding of one field (None: none) and a number to choose its variant by.

        Each of the field's ``k`` kinds hits ``min(rate, 1 / k)`` of the runs.
        """
        digest = self.odd.digest("wire", run_id, field)
        unit = int.from_bytes(digest[:8], "big") / 2**64
        share = min(self.odd.rate, 1.0 / len(kinds))
        if share <= 0.0 or unit >= share * len(kinds):
            return None, 0
        return kinds[min(int(unit / share), len(kinds) - 1)], int.from_bytes(digest[8:], "big")


# ----------------------------------------------------------------- helpers
class _Unchanged:
    """Type of :data:`_UNCHANGED`: an encoding does not apply to the value."""


_UNCHANGED: Final = _Unchanged()


def _wire_candidates(kinds: tuple[str, ...], fields: OddFields) -> dict[str, tuple[str, ...]]:
    """Each field a wanted same-meaning encoding may hit -> those encodings."""
    candidates: dict[str, list[str]] = {}
    for kind in kinds:
        if kind in WIRE_KINDS:
            for field in fields.wire_fields(kind):
                candidates.setdefault(field, []).append(kind)
    return {field: tuple(found) for field, found in candidates.items()}


def _encode(kind: str, value: Any, choice: int) -> Any:
    """``value`` in the encoding ``kind``, or :data:`_UNCHANGED` if it does not apply."""
    if kind in (COUNT_AS_STRING, COUNT_AS_FLOAT):
        if type(value) is not int or not -_INT64 <= value < _INT64:
            return _UNCHANGED
        if kind == COUNT_AS_STRING:
            return str(value)
        return float(value) if abs(value) <= _EXACT_FLOAT else _UNCHANGED
    if kind in (TIMESTAMP_WITH_OFFSET, TIMESTAMP_NAIVE):
        if type(value) is not str:
            return _UNCHANGED
        match = _UTC_TIMESTAMP.fullmatch(value)
        if match is None:
            return _UNCHANGED
        whole, fraction = match.group(1), match.group(2) or ""
        if kind == TIMESTAMP_NAIVE:
            return whole + fraction
        return _with_offset(whole, fraction, _OFFSETS_MIN[choice % len(_OFFSETS_MIN)])
    if kind == FLAG_AS_STRING:
        return ("true" if value else "false") if type(value) is bool else _UNCHANGED
    return _UNCHANGED


def _with_offset(whole: str, fraction: str, minutes: int) -> Any:
    """The UTC wall time ``whole`` + ``fraction`` as the same instant at ``minutes`` east."""
    try:
        local = datetime.fromisoformat(whole) + timedelta(minutes=minutes)
    except (ValueError, OverflowError):
        return _UNCHANGED
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{local.isoformat(timespec='seconds')}{fraction}{sign}{hours:02d}:{rest:02d}"


def _unfit_value(kind: str, rng: random.Random) -> Any:
    if kind == EMPTY_STRING:
        return ""
    if kind == WHITESPACE:
        return rng.choice(_WHITESPACE_VALUES)
    if kind == OBJECT_IN_TEXT:
        return copy.deepcopy(rng.choice(_OBJECTS))
    if kind == BOOL_IN_COUNT:
        return rng.random() < 0.75
    if kind == UNKNOWN_STATUS:
        return rng.choice(UNKNOWN_STATUSES)
    if kind == UNICODE_TEXT:
        return rng.choice(_UNICODE_VALUES)
    if kind == HUGE_INT:
        return rng.choice(_HUGE_INTS)
    if kind == STRING_IN_FLAG:
        return rng.choice(_FLAG_STRINGS)
    if kind == FLOAT_IN_COUNT:
        return rng.randint(0, 999) + 0.5
    raise ValueError(f"not an unfit kind: {kind!r}")


def _eligible(run: Mapping[str, Any], field: str, kind: str) -> bool:
    """Whether ``field`` exists in ``run`` (a timestamp must not be null for blank kinds)."""
    present, value = _get_path(run, field)
    if not present:
        return False
    return not (kind in (EMPTY_STRING, WHITESPACE) and value is None)


def _get_path(run: Mapping[str, Any], field: str) -> tuple[bool, Any]:
    """(found, value) of a dotted field."""
    node: Any = run
    for part in field.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _set_path(run: dict[str, Any], field: str, value: Any) -> None:
    """Set a dotted field, copying the nested objects on the way (key order is kept)."""
    head, _, rest = field.partition(".")
    if not rest:
        run[head] = value
        return
    nested = dict(run[head])
    _set_path(nested, rest, value)
    run[head] = nested


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (True is not 1, 12.0 is not 12)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def parsed_or_none(parse: Callable[[str], int], value: Any) -> int | None:
    """``parse(value)`` for a string it reads; None for anything else (an odd value)."""
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except ValueError:
        return None
