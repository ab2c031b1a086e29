"""Region lockout: the source follows the host a 403 names once, as the SDK does, never further."""

import logging

import dlt
import pytest
from requests import Response

from files_com_simulator import FilesComSimulator, World
from files_com_source import FilesComAuthError, FilesComRegionError
from files_com_source.region import named_host, relocation
from tests.files_com.conftest import API_KEY, source_for
from tests.files_com.test_errors import failed_load
from tests.files_com.truth import assert_matches_truth, cursor_state


def test_a_region_locked_site_is_followed_to_its_host(
    world: World, pipeline: dlt.Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with FilesComSimulator(world, api_key=API_KEY, region_host="localhost") as sim:
        pipeline.run(source_for(sim))  # configured on 127.0.0.1, the site lives on localhost

        assert_matches_truth(pipeline, world.ground_truth_runs())
        first, *rest = sim.requests
        assert first.status == 403 and rest and {r.status for r in rest} == {200}
        assert [r.query for r in rest[:1]] == [first.query]  # the same request, sent there
        said = [r.getMessage() for r in caplog.records if "locked to" in r.getMessage()]
        assert len(said) == 1 and f"localhost:{sim.port}" in said[0]
        assert sim.region_base_url in said[0]  # the base_url to set, to save the extra request
        assert API_KEY not in caplog.text

        world.advance(seconds=3600)  # open runs finish; the stuck one is fetched by id there
        sim.reset_log()
        pipeline.run(source_for(sim))

        assert_matches_truth(pipeline, world.ground_truth_runs())
        assert [r.status for r in sim.requests].count(403) == 1  # each load follows once
        sim.reset_log()
        pipeline.run(source_for(sim, base_url=sim.region_base_url))  # set to the site's host
        assert {r.status for r in sim.requests} == {200}


def test_a_lockout_from_the_new_host_too_is_one_clear_error(
    world: World, pipeline: dlt.Pipeline
) -> None:
    # locked to a host no request reaches: 127.0.0.1 names localhost, localhost names itself
    with FilesComSimulator(world, api_key=API_KEY, region_host="127.0.0.9") as sim:
        named = sim.region_names = f"localhost:{sim.port}"
        error = failed_load(pipeline, api_key=API_KEY, base_url=sim.base_url)

        assert [r.status for r in sim.requests] == [403, 403]
    assert isinstance(error, FilesComRegionError) and not isinstance(error, FilesComAuthError)
    text = str(error)
    assert "lockout-region-mismatch" in text and "again" in text
    assert named in text and "sources.files_com.base_url" in text
    assert "api_key" not in text and API_KEY not in text
    assert cursor_state(pipeline) is None


def test_a_host_the_source_may_not_follow_is_one_clear_error(
    world: World, pipeline: dlt.Pipeline
) -> None:
    with FilesComSimulator(world, api_key=API_KEY, region_host="localhost") as sim:
        sim.region_names = "files.example.net"  # from http://127.0.0.1: loopback only
        error = failed_load(pipeline, api_key=API_KEY, base_url=sim.base_url)
        assert [r.status for r in sim.requests] == [403]
    assert isinstance(error, FilesComRegionError)
    assert "'files.example.net'" in str(error) and "only loopback" in str(error)


BASE = "https://app.files.com/api/rest/v1"


@pytest.mark.parametrize(
    ("base_url", "named", "expected"),
    [
        (BASE, "acme.eu.files.com", "https://acme.eu.files.com/api/rest/v1"),
        (BASE, "https://acme.eu.files.com/", "https://acme.eu.files.com/api/rest/v1"),
        (BASE, "https://acme.eu.files.com:443", "https://acme.eu.files.com/api/rest/v1"),
        (BASE, "http://acme.eu.files.com", None),  # never https -> http
        (BASE, "acme.eu.files.com:8443", None),  # only the default port (as the SDK)
        (BASE, "10.0.0.7", None),  # no IP address
        (BASE, "localhost", None),  # no local name from a real site
        (BASE, "files.internal", None),
        (BASE, "app.files.com", None),  # the host that answered
        (BASE, "acme.files.com/evil?x=1", None),  # a host, not a URL
        (BASE, "user@acme.files.com", None),
        (
            "http://127.0.0.1:8766/api/rest/v1",
            "localhost:9000",
            "http://localhost:9000/api/rest/v1",
        ),
        ("http://127.0.0.1:8766/api/rest/v1", "acme.files.com", None),  # http stays on loopback
        ("http://127.0.0.1:8766/api/rest/v1", "https://localhost:9000", None),
        ("http://localhost:8766/api/rest/v1", "localhost:8766", None),
    ],
)
def test_which_hosts_are_followed(base_url: str, named: str, expected: str | None) -> None:
    move = relocation(base_url, named)
    assert move.base_url == expected
    assert (move.refusal == "") == (expected is not None)


def answer(status: int, body: bytes, **headers: str) -> Response:
    built = Response()
    built.status_code, built._content = status, body
    built.headers.update({name.replace("_", "-"): value for name, value in headers.items()})
    return built


MISMATCH = b'{"type": "not-authenticated/lockout-region-mismatch"'


def test_the_named_host_comes_from_data_then_the_header() -> None:
    both = answer(403, MISMATCH + b', "data": {"host": "a.files.com"}}', X_Files_Host="b.files.com")
    assert named_host(both) == "a.files.com"
    assert named_host(answer(403, MISMATCH + b"}", X_Files_Host="b.files.com")) == "b.files.com"
    other = b'{"type": "not-authorized/insufficient-permission"}'
    assert named_host(answer(403, other, X_Files_Host="b.files.com")) is None
    assert named_host(answer(401, MISMATCH + b"}", X_Files_Host="b.files.com")) is None
    assert named_host(answer(403, b"<html>", X_Files_Host="b.files.com")) is None
