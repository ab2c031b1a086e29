"""Hypothesis strategies: API values as documented, and the ones nobody designed."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

BIG = 2**53
_UNICODE = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]),  # JSON cannot carry lone surrogates
    max_size=12,
)
_TRICKY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "null",
        "None",
        "🚀 sync ✓",
        "\u202eevil\u202c",  # right-to-left override
        "e\u0301\u0301",  # combining marks
        "bell\u0007",
        "nul\x00byte",
        "\uf026private",  # a private-use code point (dlt marks types with some)
        "x" * 100_000,
    ]
)
_NUMBER_TEXT = st.sampled_from(
    [
        "12",
        " 7 ",
        "-3",
        "+4",
        "0x1A",
        "1_000",
        "1e3",
        "12.0",
        "0.5",
        ".5",
        "nan",
        "inf",
        "1e400",
        str(2**63),
        str(2**70),
        "٣",
    ]
)
_FLAG_TEXT = st.sampled_from(["true", "false", "TRUE", " False ", "yes", "no", "1", "0", "t"])
_INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
_TIME_TEXT = st.one_of(
    _INSTANTS.map(lambda d: d.isoformat().replace("+00:00", "Z")),
    _INSTANTS.map(lambda d: d.astimezone(st_offset(330)).isoformat()),
    _INSTANTS.map(lambda d: d.replace(tzinfo=None).isoformat()),
    _INSTANTS.map(lambda d: d.date().isoformat()),
    st.sampled_from(
        [
            "2024-01-03T16:46:04.807Z",
            "2024-01-03T16:46:04.807",
            "2024-01-04",
            "2024-01-04T10:00:00+05:30",
            "2024-01-04 10:00:00Z",
            "2024-01-04T10:00:00.123456789Z",
            "20240104",
            "2024-W01-1",
            "2024-13-01",
            "1700000000",
            "2024",
            "yesterday",
        ]
    ),
)


def st_offset(minutes: int) -> Any:
    from datetime import timezone

    return timezone(timedelta(minutes=minutes))


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, 12.0, 12.5, -0.0, 1e20, float(BIG * 4)]),
    _UNICODE,
    _TRICKY_TEXT,
    _NUMBER_TEXT,
    _FLAG_TEXT,
    _TIME_TEXT,
)
hostile = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "code", "detail"]), inner, max_size=3),
    ),
    max_leaves=6,
)
# unknown fields hold ints a double represents exactly (README: larger ones in unknown fields
# follow dlt's column type of the page and are not part of this comparison)
_UNKNOWN_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-BIG, BIG),
    st.floats(allow_nan=False, allow_infinity=False),
    _UNICODE,
    _NUMBER_TEXT,
    _FLAG_TEXT,
    _TIME_TEXT,
)
unknown_value = st.recursive(
    _UNKNOWN_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2),
    ),
    max_leaves=4,
)
unknown_fields = st.dictionaries(
    st.sampled_from(["extra_metric", "extra_flag", "extra_info"]), unknown_value, max_size=2
)

VALID: dict[str, Any] = {
    "timestamp": _TIME_TEXT,
    "bigint": st.integers(0, 10**9),
    "double": st.floats(0, 1),
    "bool": st.booleans(),
    "text": _UNICODE,
}


def field_value(kind: str) -> Any:
    """A documented field's value: valid most of the time, hostile the rest."""
    return st.one_of(VALID[kind], VALID[kind], hostile)


def created_at(index: int) -> str:
    """A valid, distinct created_at (the cursor field is never hostile: the reader refuses)."""
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=index)
    return moment.isoformat().replace("+00:00", "Z")


def maybe_fields(kinds: Mapping[str, str]) -> Any:
    """Some of the documented fields (missing keys included), each with a value."""
    return st.fixed_dictionaries({}, optional={name: field_value(k) for name, k in kinds.items()})
