"""Bad input and refused tokens: one clear line naming what to fix, and nothing loaded."""

import logging
from pathlib import Path
from typing import Any

import dlt
import pytest

from hightouch_simulator import HightouchSimulator, World
from tests.hightouch.conftest import TOKEN, source_for
from tests.hightouch.truth import assert_matches_truth, run_requests


def error_of(pipeline: dlt.Pipeline, sim: HightouchSimulator, **options: Any) -> str:
    """The one-line message of the exception a load fails with (from the source or dlt)."""
    with pytest.raises(Exception) as raised:
        pipeline.run(source_for(sim, **options))
    error: BaseException | None = raised.value
    while error is not None and type(error).__module__.split(".")[0] != "hightouch_source":
        error = error.__cause__ or error.__context__
    assert error is not None, f"no Hightouch error behind {raised.value!r}"
    message = str(error)
    assert "\n" not in message
    return message


def assert_nothing_loaded(pipeline: dlt.Pipeline) -> None:
    assert not pipeline.state.get("sources")
    assert pipeline.default_schema_name is None or "sync_runs" not in pipeline.default_schema.tables


def test_a_rejected_token_names_the_setting_and_never_shows_the_token(
    simulator: HightouchSimulator, pipeline: dlt.Pipeline
) -> None:
    wrong = "ht-wrong-token-1234567890"
    message = error_of(pipeline, simulator, api_key=wrong)
    assert "401" in message and "sources.hightouch.api_key" in message
    assert "SOURCES__HIGHTOUCH__API_KEY" in message
    assert wrong not in message and TOKEN not in message
    assert len(simulator.requests) == 1  # the sync list answered 401: no retries, nothing else
    assert_nothing_loaded(pipeline)


def test_an_unknown_sync_id_is_named(simulator: HightouchSimulator, pipeline: dlt.Pipeline) -> None:
    message = error_of(pipeline, simulator, sync_ids=[1002, 987654])
    assert message == (
        "sync id(s) 987654 not found in the Hightouch workspace: fix sources.hightouch.sync_ids"
    )
    assert not run_requests(simulator)
    assert_nothing_loaded(pipeline)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"start_date": "2024-13-45"}, "sources.hightouch.start_date '2024-13-45' is not an ISO"),
        ({"end_date": "yesterday"}, "sources.hightouch.end_date 'yesterday' is not an ISO"),
        (
            {"start_date": "2024-02-01", "end_date": "2024-01-01"},
            "sources.hightouch.end_date 2024-01-01T00:00:00+00:00 is not after "
            "sources.hightouch.start_date",
        ),
        ({"start_date": "2999-01-01"}, "sources.hightouch.start_date 2999-01-01"),
        ({"sync_ids": ["12a"]}, "sync id '12a' is not a numeric Hightouch sync id"),
        ({"api_key": "  "}, "The Hightouch API key is empty: set sources.hightouch.api_key"),
        ({"api_key": "two words"}, "blanks or non-ASCII characters: check sources.hightouch"),
        ({"concurrency": 0}, "sources.hightouch.concurrency must be between 1 and 64, not 0"),
        ({"rate_limit": -1}, "sources.hightouch.rate_limit must be >= 0, not -1"),
        ({"page_size": 500}, "sources.hightouch.page_size must be between 1 and 100, not 500"),
    ],
)
def test_bad_settings_are_named_before_any_request(
    options: dict[str, Any],
    expected: str,
    simulator: HightouchSimulator,
    pipeline: dlt.Pipeline,
) -> None:
    assert expected in error_of(pipeline, simulator, **options)
    assert simulator.requests == []
    assert_nothing_loaded(pipeline)


def test_plain_http_off_loopback_is_refused() -> None:
    from hightouch_source import HightouchConfigError, hightouch_source

    with pytest.raises(HightouchConfigError, match=r"sources.hightouch.base_url uses plain http"):
        hightouch_source(api_key=TOKEN, base_url="http://api.hightouch.com")


def test_the_key_comes_from_dlt_config(
    world: World,
    simulator: HightouchSimulator,
    pipeline: dlt.Pipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hightouch_source import hightouch_source

    monkeypatch.setenv("SOURCES__HIGHTOUCH__API_KEY", TOKEN)
    monkeypatch.setenv("SOURCES__HIGHTOUCH__SYNC_IDS", '["1003"]')

    pipeline.run(hightouch_source(base_url=simulator.base_url))

    assert_matches_truth(pipeline, [r for r in world.ground_truth_runs() if r["syncId"] == "1003"])


def test_the_key_is_stored_nowhere(
    simulator: HightouchSimulator, pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    info = pipeline.run(source_for(simulator))

    files = [path for path in Path(pipeline.pipelines_dir).rglob("*") if path.is_file()]
    files.append(Path(pipeline.destination.config_params["credentials"]))
    assert len(files) > 5 and any(
        pipeline.pipeline_name.encode() in path.read_bytes() for path in files
    )
    leaks = [str(path) for path in files if TOKEN.encode() in path.read_bytes()]
    assert leaks == []
    assert (
        TOKEN not in caplog.text
        and TOKEN not in str(info)
        and TOKEN not in str(pipeline.last_trace)
    )
