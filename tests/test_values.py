"""The one rule for values that do not fit (syncruns_common/values.py), case by case."""

from datetime import UTC, datetime
from typing import Any

import pytest

from syncruns_common.payload import parse_json
from syncruns_common.values import Kind, Verbatim, fit

AT = datetime(2024, 1, 3, 16, 46, 4, 807000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("timestamp", "2024-01-03T16:46:04.807Z", AT),
        ("timestamp", "2024-01-03T22:16:04.807+05:30", AT),
        ("timestamp", "2024-01-03T16:46:04.807", AT),
        ("timestamp", "2024-01-04", datetime(2024, 1, 4, tzinfo=UTC)),
        ("timestamp", "", Verbatim("text", "")),
        (
            "timestamp",
            "2024-01-03T16:46:04.807123456Z",
            Verbatim("text", "2024-01-03T16:46:04.807123456Z"),
        ),
        ("timestamp", 1700000000, Verbatim("bigint", 1700000000)),
        ("timestamp", "2024-13-01", Verbatim("text", "2024-13-01")),
        ("bigint", "12", 12),
        ("bigint", " 12 ", 12),
        ("bigint", 12.0, 12),
        ("bigint", True, Verbatim("bool", True)),
        ("bigint", 12.5, Verbatim("double", 12.5)),
        ("bigint", "0x1A", Verbatim("text", "0x1A")),
        ("bigint", 2**63, Verbatim("text", str(2**63))),
        ("bigint", 2**63 - 1, 2**63 - 1),
        ("bigint", 1e300, Verbatim("double", 1e300)),
        ("double", "0.5", 0.5),
        ("double", 3, 3.0),
        ("double", "nan", Verbatim("text", "nan")),
        ("double", 2**60, Verbatim("bigint", 2**60)),
        ("bool", "true", True),
        ("bool", " FALSE ", False),
        ("bool", 1, True),
        ("bool", 0, False),
        ("bool", 5, Verbatim("bigint", 5)),
        ("bool", 1.0, Verbatim("double", 1.0)),
        ("bool", "yes", Verbatim("text", "yes")),
        ("text", "🚀\u202e", "🚀\u202e"),
        ("text", 5, "5"),
        ("text", True, Verbatim("bool", True)),
        ("text", {"code": "E42"}, Verbatim("json", '{"code": "E42"}')),
        ("text", [], Verbatim("json", "[]")),
        ("text", None, None),
    ],
)
def test_fit(kind: Kind, value: Any, expected: Any) -> None:
    got = fit(kind, value)
    assert got == expected and type(got) is type(expected)


def test_integers_beyond_64_bits_stay_exact() -> None:
    body = b'{"a": 123456789012345678901234567890, "b": [1.5, "x"], "c": -9223372036854775809}'
    assert parse_json(body) == {
        "a": 123456789012345678901234567890,
        "b": [1.5, "x"],
        "c": -9223372036854775809,
    }
    with pytest.raises(ValueError):
        parse_json(b'{"a": 123456789012345678901234567890, "b": NaN}')


def test_row_guard_keeps_odd_shapes_and_leaves_its_input_alone() -> None:
    from syncruns_common.row_guard import RowGuard
    from syncruns_common.verbatim import VerbatimTally

    metrics: dict[str, Any] = {}
    guard = RowGuard(
        "syncs",
        {"paused": "bool", "label": "text"},
        VerbatimTally(metrics, "test"),
        text_lists=frozenset({"errors"}),
        object_lists=frozenset({"mappings"}),
    )
    rows = [
        {"id": 1, "paused": "true", "mappings": {}, "errors": ["x", {"a": 1}, False]},
        {"id": 2, "paused": "maybe", "label": 5, "mappings": [{"to": "email"}, "odd"]},
    ]
    original = [dict(row) for row in rows]
    guarded = guard.guard(rows)
    assert rows == original
    assert guarded == [
        {
            "id": 1,
            "paused": True,
            "mappings__v_json": "{}",
            "errors": ["x", {"value__v_json": '{"a": 1}'}, {"value__v_bool": False}],
        },
        {"id": 2, "paused__v_text": "maybe", "label": "5", "mappings": [{"to": "email"}, "odd"]},
    ]
    assert metrics["verbatim_values"] == {
        "syncs.mappings": 1,
        "syncs__errors.value": 2,
        "syncs.paused": 1,
    }


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-04T23:59:60Z",
        "2024-01-04T10Z",
        "2024-01-04T10:00Z",
        "2024-1-4T10:00:00Z",
        "2024-01-04t10:00:00z",
        "2024-01-04T10:00:00+0530",
        "2024-01-04T10:00:00.Z",
        "2024-01-04T10:00:00+05",
        "2024-01-04T10:00:00,5Z",
        "2024-01-04T10:00:00.1234567Z",
        "2024-01-04 10:00:00Z",
        "2024-01-04T10:00:00.5+05:30",
        "2024-02-30T10:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "2024-01-04T10:00:00-00:00",
        "2024-01-04T24:00:00Z",
        "+2024-01-04T10:00:00Z",
        " 2024-01-04T10:00:00Z",
        "2024-01-04T10:00:00.000000000Z",
        "2024-01-04T10:00:00+23:59",
        "2024-01-04",
        "2024-01-03T16:46:04.807",
    ],
)
def test_arrow_reads_a_timestamp_as_python_does_or_not_at_all(text: str) -> None:
    """The Census fast path casts a page's timestamps with Arrow and falls back to fit() for a
    page Arrow refuses: the two must never disagree on a value both read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arrow = pc.cast(pa.array([text]), pa.timestamp("us", tz="UTC"))[0].as_py()
    except pa.ArrowInvalid:
        return
    except (ValueError, OverflowError):  # Arrow reads year 0, Python cannot: see arrow_pages
        assert isinstance(fit("timestamp", text), Verbatim)
        return
    assert fit("timestamp", text) == arrow
