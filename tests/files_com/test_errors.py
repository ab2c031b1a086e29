"""Bad keys, bad settings and a failing API end in one clear line naming what to fix."""

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from files_com_simulator import FaultPlan, FilesComSimulator, World
from files_com_source import (
    FilesComAuthError,
    FilesComConfigError,
    FilesComResponseError,
    FilesComSourceError,
    FilesComUnreachableError,
    files_com_source,
)
from files_com_source.config import resolve_base_url
from pipelines.census_pipeline import main
from tests.files_com.conftest import API_KEY, FORBIDDEN_KEY, source_for
from tests.files_com.truth import assert_matches_truth, cursor_state, loaded_runs


def source_error(exc: BaseException) -> FilesComSourceError:
    """The source's own error inside dlt's wrapping (PipelineStepFailed and friends)."""
    node: BaseException | None = exc
    while node is not None:
        if isinstance(node, FilesComSourceError):
            return node
        node = getattr(node, "exception", None) or node.__cause__ or node.__context__
    raise AssertionError(f"no FilesComSourceError in {exc!r}")


def failed_load(pipeline: dlt.Pipeline, **options: Any) -> FilesComSourceError:
    with pytest.raises(Exception) as caught:
        pipeline.run(files_com_source(**options))
    error = source_error(caught.value)
    assert "\n" not in str(error)
    return error


@pytest.mark.parametrize(
    ("key", "status", "phrase"),
    [("wrong-key-123", 401, "rejected the API key"), (FORBIDDEN_KEY, 403, "refused access")],
)
def test_bad_key_names_the_setting_and_changes_nothing(
    key: str,
    status: int,
    phrase: str,
    world: World,
    simulator: FilesComSimulator,
    pipeline: dlt.Pipeline,
) -> None:
    pipeline.run(source_for(simulator))
    cursor, runs = cursor_state(pipeline), loaded_runs(pipeline)
    world.advance(seconds=600)

    error = failed_load(pipeline, api_key=key, base_url=simulator.base_url)

    assert isinstance(error, FilesComAuthError)
    assert f"({status})" in str(error) and phrase in str(error)
    assert "sources.files_com.api_key" in str(error) and "SOURCES__FILES_COM__API_KEY" in str(error)
    assert key not in str(error)
    assert [r.status for r in simulator.requests][-1] == status
    assert cursor_state(pipeline) == cursor
    assert loaded_runs(pipeline) == runs


def test_bad_key_on_first_load_creates_no_table(
    simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    error = failed_load(pipeline, api_key="nope", base_url=simulator.base_url)

    assert isinstance(error, FilesComAuthError)
    assert pipeline.default_schema_name is None or "sync_runs" not in pipeline.default_schema.tables


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"subdomain": None}, "sources.files_com.subdomain is not set"),
        ({"subdomain": "acme.files.com"}, "sources.files_com.subdomain 'acme.files.com'"),
        ({"subdomain": "-acme"}, "sources.files_com.subdomain '-acme'"),
        ({"base_url": "http://files.example.com/api/rest/v1"}, "sources.files_com.base_url"),
        ({"base_url": "ftp://127.0.0.1/api"}, "sources.files_com.base_url"),
        ({"api_key": "  "}, "sources.files_com.api_key"),
        ({"api_key": "two words"}, "sources.files_com.api_key"),
        ({"start_date": "yesterday"}, "sources.files_com.start_date 'yesterday'"),
        ({"end_date": "2025-13-01"}, "sources.files_com.end_date '2025-13-01'"),
        ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, "sources.files_com.end_date"),
        ({"start_date": "2999-01-01"}, "sources.files_com.start_date"),
        ({"per_page": 10_001}, "sources.files_com.per_page must be between 1 and 10,000"),
        ({"per_page": 0}, "sources.files_com.per_page"),
        ({"per_page": "ten"}, "sources.files_com.per_page must be an integer"),
        ({"per_page": 10.5}, "sources.files_com.per_page must be an integer"),
        ({"workspace_id": -1}, "sources.files_com.workspace_id must be a whole number"),
        ({"workspace_id": "five"}, "sources.files_com.workspace_id"),
        ({"overlap_seconds": 0}, "sources.files_com.overlap_seconds must be at least 1"),
        ({"open_lookback_hours": -1}, "sources.files_com.open_lookback_hours"),
    ],
)
def test_bad_setting_names_it(options: dict[str, Any], names: str) -> None:
    arguments: dict[str, Any] = {"api_key": "key", "subdomain": "acme", **options}
    with pytest.raises(FilesComConfigError) as caught:
        files_com_source(**arguments)
    assert names in str(caught.value)
    assert "\n" not in str(caught.value)


def test_subdomain_and_base_url_resolve() -> None:
    assert resolve_base_url(" Acme-Corp ", None) == "https://acme-corp.files.com/api/rest/v1"
    assert resolve_base_url("ignored", "https://files.acme.com/api/rest/v1/") == (
        "https://files.acme.com/api/rest/v1"
    )
    assert resolve_base_url(None, "http://localhost:8080/api/rest/v1").startswith("http://")


def test_settings_come_from_the_environment(
    world: World,
    simulator: FilesComSimulator,
    pipeline: dlt.Pipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__FILES_COM__API_KEY", API_KEY)
    monkeypatch.setenv("SOURCES__FILES_COM__BASE_URL", simulator.base_url)
    monkeypatch.setenv("SOURCES__FILES_COM__PER_PAGE", "1000")

    pipeline.run(files_com_source())

    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert {r.param("per_page") for r in simulator.requests} == {"1000"}
    trace = json.dumps(pipeline.state, default=str) + str(pipeline.last_trace)
    assert API_KEY not in trace


def test_unreachable_api_names_the_setting(pipeline: dlt.Pipeline) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failed_load(pipeline, api_key="k", base_url=f"http://127.0.0.1:{port}/api/rest/v1")

    assert isinstance(error, FilesComUnreachableError)
    assert "sources.files_com.subdomain / base_url" in str(error)
    assert "after 2 attempts" in str(error)


def test_wrong_api_root_is_a_404_naming_the_setting(
    simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    root = simulator.base_url.removesuffix("/api/rest/v1")
    error = failed_load(pipeline, api_key=API_KEY, base_url=root + "/api/v1")

    assert isinstance(error, FilesComResponseError)
    assert "404" in str(error) and "sources.files_com.subdomain" in str(error)


@pytest.mark.parametrize(
    ("kind", "error_type", "phrase"),
    [
        ("503", FilesComUnreachableError, "kept answering 503"),
        ("429", FilesComUnreachableError, "kept answering 429"),
        ("truncated", FilesComResponseError, "not JSON"),
        ("html", FilesComResponseError, "text/html"),
    ],
)
def test_api_failing_after_every_retry(
    kind: str,
    error_type: type[FilesComSourceError],
    phrase: str,
    world: World,
    pipeline: dlt.Pipeline,
) -> None:
    plan = FaultPlan(seed=1, rate=1.0, kinds=[kind])
    with FilesComSimulator(world, api_key=API_KEY, faults=plan) as sim:
        error = failed_load(pipeline, api_key=API_KEY, base_url=sim.base_url)
        assert len(sim.requests) == 2  # RUNTIME__REQUEST_MAX_ATTEMPTS from tests/conftest.py

    assert isinstance(error, error_type)
    assert phrase in str(error) and "GET /sync_runs page 1" in str(error)


def test_start_date_in_the_future_is_refused_against_the_real_clock() -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(FilesComConfigError, match=r"start_date .* is in the future"):
        files_com_source(api_key="k", subdomain="acme", start_date=tomorrow)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0", "sources.files_com.per_page must be between 1 and 10,000, not 0"),
        ("10001", "sources.files_com.per_page must be between 1 and 10,000, not 10001"),
        ("ten", "per_page"),  # dlt refuses to coerce it before the source sees it
    ],
)
def test_bad_per_page_on_the_command_line_is_bad_input(
    value: str,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCES__FILES_COM__API_KEY", API_KEY)
    monkeypatch.setenv("SOURCES__FILES_COM__SUBDOMAIN", "acme")
    monkeypatch.setenv("SOURCES__FILES_COM__PER_PAGE", value)

    code = main(["run", "--source", "files_com", "--quiet"])

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2  # README: bad input or config
    assert len(lines) == 1 and lines[0].startswith("syncruns: error: ") and says in lines[0]
    assert API_KEY not in lines[0]


def test_per_page_from_the_environment_is_sent(
    world: World,
    simulator: FilesComSimulator,
    pipeline: dlt.Pipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__FILES_COM__PER_PAGE", "700")

    pipeline.run(source_for(simulator, per_page=dlt.config.value))

    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert {r.param("per_page") for r in simulator.requests} == {"700"}
    assert len(simulator.requests) == -(-world.run_count // 700)


def test_workspace_id_is_sent_and_selects_that_workspace(
    world: World, simulator: FilesComSimulator, pipeline: dlt.Pipeline
) -> None:
    truth = world.ground_truth_runs()
    workspace = next(r["workspace_id"] for r in truth if r["workspace_id"])

    pipeline.run(source_for(simulator, workspace_id=workspace))

    assert_matches_truth(pipeline, [r for r in truth if r["workspace_id"] == workspace])
