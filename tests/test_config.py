"""Input validation: every bad value becomes one CensusConfigError naming what to fix."""

from datetime import UTC, date, datetime, timedelta

import pytest

from census_source.config import (
    normalize_sync_ids,
    parse_window,
    resolve_base_url,
    validate_api_key,
)
from census_source.errors import CensusConfigError
from census_source.reader import cheapest_page_depth

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("region", "base_url", "expected"),
    [
        ("us", None, "https://app.getcensus.com/api/v1"),
        ("EU", None, "https://app-eu.getcensus.com/api/v1"),
        (
            "us",
            "https://proxy.example.com/census/api/v1/",
            "https://proxy.example.com/census/api/v1",
        ),
        ("nowhere", "http://127.0.0.1:8080/api/v1", "http://127.0.0.1:8080/api/v1"),
        ("us", "http://localhost:9/api/v1", "http://localhost:9/api/v1"),
        ("us", "http://[::1]:9/api/v1", "http://[::1]:9/api/v1"),
    ],
)
def test_base_url_resolution(region: str, base_url: str | None, expected: str) -> None:
    assert resolve_base_url(region, base_url) == expected


@pytest.mark.parametrize(
    ("region", "base_url", "message"),
    [
        ("mars", None, "Unknown region 'mars': set sources.census.region"),
        ("us", "http://app.getcensus.com/api/v1", "plain http:// to app.getcensus.com"),
        ("us", "http://10.0.0.5/api/v1", "only on loopback"),
        ("us", "ftp://example.com", "is not a valid URL"),
        ("us", "app.getcensus.com/api/v1", "is not a valid URL"),
        ("us", "https://user:pw@example.com/api/v1", "must not carry credentials"),
        ("us", "https://example.com:99999/api", "is not a valid URL"),
    ],
)
def test_bad_base_url_or_region(region: str, base_url: str | None, message: str) -> None:
    with pytest.raises(CensusConfigError, match=message):
        resolve_base_url(region, base_url)


@pytest.mark.parametrize("token", ["", "   ", None, "abc def", "tok\nen", "tökén"])
def test_bad_tokens_are_refused_without_echo(token: object) -> None:
    with pytest.raises(CensusConfigError, match=r"sources\.census\.api_key") as raised:
        validate_api_key(token)
    if isinstance(token, str) and token.strip():
        assert token.strip() not in str(raised.value)


def test_token_is_stripped() -> None:
    assert validate_api_key("  secret-token \n") == "secret-token"


def test_window_parsing() -> None:
    window = parse_window("2024-01-01", date(2024, 2, 1), NOW)
    assert window is not None
    assert window.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert window.end == datetime(2024, 2, 1, tzinfo=UTC)
    assert window.contains(datetime(2024, 1, 1, tzinfo=UTC))
    assert not window.contains(datetime(2024, 2, 1, tzinfo=UTC))
    offset = parse_window("2024-01-01T02:00:00+02:00", None, NOW)
    assert offset is not None and offset.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_window(None, "", NOW) is None


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("yesterday", None, "start_date 'yesterday' is not an ISO-8601"),
        (None, "2024-13-01", "end_date '2024-13-01' is not an ISO-8601"),
        ("2024-02-01", "2024-01-01", "is not after start_date"),
        ("2024-02-01", "2024-02-01", "is not after start_date"),
        ((NOW + timedelta(days=1)).isoformat(), None, "is in the future"),
    ],
)
def test_bad_windows(start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(CensusConfigError, match=message):
        parse_window(start, end, NOW)


def test_sync_ids() -> None:
    assert normalize_sync_ids(None) is None
    assert normalize_sync_ids([12, "034", 12]) == ("12", "34")
    assert normalize_sync_ids("5, 6") == ("5", "6")
    for bad in (["abc"], [1.5], [True], [], ["-3"]):
        with pytest.raises(CensusConfigError, match="sync"):
            normalize_sync_ids(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pages", "read", "depth"),
    [
        ([], 1, 1),
        ([2], 1, 1),  # one page or one fetch: equal, stay shallow
        ([2, 2], 1, 2),  # one page beats two fetches
        ([2, 2, 15], 1, 2),  # page 2 for two runs, fetch the deep one
        ([15], 1, 1),
        ([None, 2, 2], 1, 2),  # unknown position: always fetched alone
        ([3, 3, 3, 3], 1, 3),
        ([1, 1], 3, 3),  # already read past them
    ],
)
def test_cheapest_page_depth(pages: list[int | None], read: int, depth: int) -> None:
    assert cheapest_page_depth(pages, read) == depth
