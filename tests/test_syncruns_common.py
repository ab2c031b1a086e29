"""syncruns_common, the pieces the Census, Hightouch and Files.com sources share, case by case.

Each source's own wording is tested by its suites; here the shared logic is tested with words
of a made-up source, and HTTP goes to a small scripted server on 127.0.0.1.
"""

import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from dlt.common.configuration.specs import RuntimeConfiguration
from requests import Response

from syncruns_common.failures import DELETED_SYNCS, FAILED_SYNCS, SyncFailures
from syncruns_common.fanout import Failed, Finished, Page, read_concurrently
from syncruns_common.fingerprint import fingerprint
from syncruns_common.http_errors import HttpErrors
from syncruns_common.http_session import rate_limited_session, retrying_session
from syncruns_common.payload import (
    body_is_not_json,
    body_is_unreadable,
    json_payload,
    response_payload,
)
from syncruns_common.sync_ids import normalize_sync_ids
from syncruns_common.timestamps import format_timestamp, parse_timestamp
from syncruns_common.tokens import validate_api_key
from syncruns_common.urls import UrlWords, check_base_url, is_loopback_host
from syncruns_common.window import Window, WindowWords, parse_window

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class ToolError(Exception):
    """Stands for a source's own errors (ToolConfigError, ToolAuthError, ...)."""


class ToolConfigError(ToolError, ValueError):
    pass


class ToolAuthError(ToolError):
    pass


class ToolResponseError(ToolError):
    pass


class ToolNotFoundError(ToolError):
    pass


class ToolGoneError(ToolError):
    pass


class ToolUnreachableError(ToolError):
    pass


# --- a scripted HTTP server on loopback

Reply = tuple[int, str, bytes]  # status, content type, body
JSON = "application/json"
HTML = "text/html"


class ScriptedServer(ThreadingHTTPServer):
    """Answers each path with its script of replies in turn (the last one repeats)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: dict[str, list[Reply]] = {}
        self.requests: list[str] = []
        self.slow_s = 0.0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, path: str) -> Reply:
        replies = self.script.get(path.split("?")[0], [(404, JSON, b'{"error": "no route"}')])
        return replies.pop(0) if len(replies) > 1 else replies[0]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up (the timeout tests do); report the rest."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path.startswith("/slow"):
            time.sleep(self.server.slow_s)
        status, kind, body = self.server.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    httpd = ScriptedServer()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def runtime(attempts: int = 3, timeout: float = 5.0) -> RuntimeConfiguration:
    return RuntimeConfiguration(
        request_max_attempts=attempts, request_backoff_factor=0, request_timeout=timeout
    )


class CountingLimiter:
    """A limiter that lets everything through and counts the requests it was asked about."""

    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self) -> None:
        self.acquired += 1


# --- timestamps, windows, tokens, URLs, sync ids


def test_timestamps_are_utc_instants_whatever_the_precision_or_offset() -> None:
    assert parse_timestamp("2024-01-31T10:00:07Z") == datetime(2024, 1, 31, 10, 0, 7, tzinfo=UTC)
    assert parse_timestamp("2024-01-31T10:00:07.5Z") > parse_timestamp("2024-01-31T10:00:07Z")
    assert parse_timestamp("2024-01-31T12:00:07+02:00") == parse_timestamp("2024-01-31T10:00:07Z")
    assert parse_timestamp("2024-01-31T10:00:07").tzinfo == UTC  # naive means UTC
    plus_one = datetime(2024, 1, 31, 11, 0, 7, tzinfo=timezone(timedelta(hours=1)))
    assert parse_timestamp(plus_one) == parse_timestamp("2024-01-31T10:00:07Z")
    assert format_timestamp(plus_one) == "2024-01-31T10:00:07.000000Z"
    with pytest.raises(ValueError):
        parse_timestamp("31/01/2024")


WORDS = WindowWords(
    bad_date="sources.tool.{setting} {value!r} is not a date",
    end_not_after_start="end {end} is not after start {start}",
    start_in_future="start {start} is in the future",
)


def window_of(start: Any, end: Any) -> Window | None:
    return parse_window(start, end, NOW, ToolConfigError, WORDS)


def test_a_window_is_start_inclusive_end_exclusive_and_naive_means_utc() -> None:
    assert window_of(None, None) is None
    assert window_of("", " ") is None
    window = window_of(date(2024, 1, 1), "2024-01-31T12:00:00+01:00")
    assert window is not None
    assert window == Window(
        start=datetime(2024, 1, 1, tzinfo=UTC), end=datetime(2024, 1, 31, 11, tzinfo=UTC)
    )
    assert window.contains(datetime(2024, 1, 1, tzinfo=UTC))
    assert not window.contains(datetime(2024, 1, 31, 11, tzinfo=UTC))
    assert not window.contains(datetime(2023, 12, 31, 23, 59, tzinfo=UTC))
    open_ended = window_of(" 2024-01-01T00:00:00 ", None)
    assert open_ended is not None
    assert open_ended == Window(start=datetime(2024, 1, 1, tzinfo=UTC), end=None)
    assert open_ended.contains(NOW + timedelta(days=365))
    assert window_of(None, "2030-01-01") == Window(None, datetime(2030, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("yesterday", None, "sources.tool.start_date 'yesterday' is not a date"),
        (None, 20240101, "sources.tool.end_date 20240101 is not a date"),
        (
            "2024-02-01",
            "2024-02-01",
            "end 2024-02-01T00:00:00+00:00 is not after start 2024-02-01T00:00:00+00:00",
        ),
        ("2026-11-26", None, "start 2026-11-26T00:00:00+00:00 is in the future"),
    ],
)
def test_a_bad_window_is_the_sources_error_in_its_words(start: Any, end: Any, message: str) -> None:
    with pytest.raises(ToolConfigError) as raised:
        window_of(start, end)
    assert str(raised.value) == message


def check_key(value: object) -> str:
    return validate_api_key(value, ToolConfigError, "The Tool API key", "sources.tool.api_key", "K")


def test_api_keys_are_stripped_and_refused_when_empty_blank_inside_or_not_ascii() -> None:
    assert check_key("  abc-123_XYZ \n") == "abc-123_XYZ"
    for empty in (None, "", "   ", 12):
        with pytest.raises(ToolConfigError) as raised:
            check_key(empty)
        assert str(raised.value) == "The Tool API key is empty: set sources.tool.api_key (or env K)"
    for bad in ("ab cd", "ab\tcd", "tökén", "ab\x00cd"):
        with pytest.raises(ToolConfigError) as raised:
            check_key(bad)
        assert str(raised.value) == (
            "The Tool API key contains blanks or non-ASCII characters: "
            "check sources.tool.api_key (or env K)"
        )
        assert bad not in str(raised.value)


def test_loopback_hosts() -> None:
    for host in ("localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1"):
        assert is_loopback_host(host), host
    for host in ("example.com", "10.0.0.1", "0.0.0.0", "::", "localhost.example.com", ""):
        assert not is_loopback_host(host), host


URL_WORDS = UrlWords(setting="sources.tool.base_url", example="https://api.tool.example")


def test_base_urls_accept_https_anywhere_and_http_only_on_loopback() -> None:
    parts = check_base_url("https://proxy.example.com:8443/tool/api", ToolConfigError, URL_WORDS)
    assert (parts.hostname, parts.port, parts.path) == ("proxy.example.com", 8443, "/tool/api")
    assert check_base_url("http://127.0.0.1:9", ToolConfigError, URL_WORDS).port == 9
    assert check_base_url("http://[::1]:9/x", ToolConfigError, URL_WORDS).hostname == "::1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://h:99999", "sources.tool.base_url 'https://h:99999' is not a valid URL ("),
        (
            "ftp://files.example.com",
            "sources.tool.base_url 'ftp://files.example.com' is not a valid URL: "
            "use https://api.tool.example (http:// only on loopback)",
        ),
        ("api.tool.example", "sources.tool.base_url 'api.tool.example' is not a valid URL: use"),
        (
            "https://user:pw@api.tool.example",
            "sources.tool.base_url must not carry credentials, a query or a fragment: "
            "api.tool.example",
        ),
        ("https://api.tool.example/?key=1", "sources.tool.base_url must not carry credentials"),
        ("https://api.tool.example/#top", "sources.tool.base_url must not carry credentials"),
        (
            "http://api.tool.example",
            "sources.tool.base_url uses plain http:// to api.tool.example: use https:// "
            "(http:// only on loopback)",
        ),
    ],
)
def test_bad_base_urls_name_the_setting(url: str, message: str) -> None:
    with pytest.raises(ToolConfigError) as raised:
        check_base_url(url, ToolConfigError, URL_WORDS)
    assert str(raised.value).startswith(message)
    assert "pw" not in str(raised.value)


def test_base_url_words_can_be_the_sources_own() -> None:
    words = UrlWords(
        setting="sources.tool.base_url",
        example="https://x",
        credentials="{setting} carries a secret",
        plain_http="{setting}: no http to {host}",
    )
    with pytest.raises(ToolConfigError, match=r"^sources\.tool\.base_url carries a secret$"):
        check_base_url("https://u:p@h.example", ToolConfigError, words)
    with pytest.raises(ToolConfigError, match=r"^sources\.tool\.base_url: no http to h\.example$"):
        check_base_url("http://h.example", ToolConfigError, words)


def select(sync_ids: Any, numeric: bool = True) -> tuple[str, ...] | None:
    return normalize_sync_ids(sync_ids, ToolConfigError, "Tool", "sources.tool.sync_ids", numeric)


def test_sync_ids_are_strings_in_order_once_each() -> None:
    assert select(None) is None
    assert select([12, "034", 12, " 7 "]) == ("12", "34", "7")
    assert select("5, 6,,5") == ("5", "6")
    assert select(42) == ("42",)
    assert select(["sync_8f3k", "007", 12, "007"], numeric=False) == ("sync_8f3k", "007", "12")


@pytest.mark.parametrize(
    ("sync_ids", "numeric", "message"),
    [
        (["abc"], True, "sync id 'abc' is not a numeric Tool sync id: fix sources.tool.sync_ids"),
        ([True], True, "sync id True is not a numeric Tool sync id"),
        (["-5"], True, "sync id '-5' is not a numeric Tool sync id"),
        (["١٢"], True, "sync id '١٢' is not a numeric Tool sync id"),  # digits, but not ASCII
        (["²"], True, "sync id '²' is not a numeric Tool sync id"),
        (["a b"], False, "sync id 'a b' is not a valid id: fix sources.tool.sync_ids"),
        ([""], False, "sync id '' is not a valid id"),
        ([False], False, "sync id False is not a valid id"),
        ([], True, "sources.tool.sync_ids is empty: list sync ids or leave it unset"),
        (",, ,", False, "sources.tool.sync_ids is empty"),
    ],
)
def test_bad_sync_ids_name_the_setting(sync_ids: Any, numeric: bool, message: str) -> None:
    with pytest.raises(ToolConfigError) as raised:
        select(sync_ids, numeric)
    assert str(raised.value).startswith(message)


def test_a_fingerprint_follows_content_not_key_order() -> None:
    run = {"id": 1, "status": "working", "counts": {"a": 1, "b": 2}, "at": NOW}
    same = {"at": NOW, "counts": {"b": 2, "a": 1}, "status": "working", "id": 1}
    assert fingerprint(run) == fingerprint(same)
    assert len(fingerprint(run)) == 16
    assert fingerprint(run) != fingerprint({**run, "status": "completed"})
    assert fingerprint(run) != fingerprint({**run, "counts": {"a": 1, "b": 3}})


# --- payloads and sessions over HTTP


def get(server: ScriptedServer, path: str, reply: Reply) -> Response:
    server.script[path] = [reply]
    return requests.get(server.base_url + path, timeout=5)


def test_a_body_is_parsed_once_and_the_retry_predicates_say_what_to_retry(
    server: ScriptedServer,
) -> None:
    obj = get(server, "/obj", (200, JSON, b'{"data": [1, 2]}'))
    first = response_payload(obj)
    assert first == {"data": [1, 2]} and response_payload(obj) is first  # cached, not re-parsed
    array = get(server, "/array", (200, JSON, b"[1, 2]"))
    html = get(server, "/html", (200, HTML, b"<html>maintenance</html>"))
    empty = get(server, "/empty", (200, JSON, b""))
    cut = get(server, "/cut", (200, JSON, b'{"data": [1, '))
    error = get(server, "/error", (503, HTML, b"<html>down</html>"))
    for unreadable in (html, empty, cut):
        with pytest.raises(ValueError):
            response_payload(unreadable)
    # envelopes are JSON objects: anything else on a 200 is retried
    assert [body_is_unreadable(r, None) for r in (obj, array, html, empty, cut, error)] == [
        *(False, True, True, True, True, False)
    ]
    # bare arrays are fine for APIs that answer them; only non-JSON is retried
    assert [body_is_not_json(r, None) for r in (obj, array, html, empty, cut, error)] == [
        *(False, False, True, True, True, False)
    ]
    assert not body_is_unreadable(None, requests.ConnectionError())
    assert not body_is_not_json(None, requests.ConnectionError())
    assert json_payload(array, ToolResponseError) == [1, 2]
    with pytest.raises(ToolResponseError) as raised:
        json_payload(html, ToolResponseError)
    assert str(raised.value) == (
        "answered a body that is not JSON (text/html, 24 bytes) after every retry"
    )


def test_the_retrying_session_retries_a_bad_200_per_its_predicate(server: ScriptedServer) -> None:
    server.script["/flaky"] = [(200, HTML, b"<html>"), (200, JSON, b"[1]"), (200, JSON, b"{}")]
    session = retrying_session(runtime(attempts=3), body_is_unreadable)
    assert session.get(server.base_url + "/flaky").json() == {}  # HTML, then an array: retried
    assert len(server.requests) == 3
    server.script["/flaky"] = [(200, HTML, b"<html>"), (200, JSON, b"[1]"), (200, JSON, b"{}")]
    session = retrying_session(runtime(attempts=3), body_is_not_json)
    assert session.get(server.base_url + "/flaky").json() == [1]  # the array is fine here
    assert len(server.requests) == 5
    server.script["/down"] = [(503, JSON, b"{}")]
    answer = retrying_session(runtime(attempts=2), body_is_not_json).get(server.base_url + "/down")
    assert answer.status_code == 503 and server.requests.count("/down") == 2  # no raise: dlt's job


def test_the_rate_limited_session_limits_every_attempt_and_reads_the_environment_once(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    server.script["/flaky"] = [(503, JSON, b"{}"), (200, HTML, b"<html>"), (200, JSON, b"{}")]
    limiter = CountingLimiter()
    session = rate_limited_session(server.base_url, runtime(attempts=3), limiter)
    assert session.get(server.base_url + "/flaky").json() == {}
    assert limiter.acquired == len(server.requests) == 3  # retries wait for the limiter too
    assert session.trust_env is False and session.verify is True

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/tool-ca.pem")
    remote = rate_limited_session("https://api.tool.example", runtime(), CountingLimiter())
    assert remote.proxies.get("https") == "http://proxy.example.com:3128"
    assert remote.verify == "/etc/ssl/tool-ca.pem"
    monkeypatch.setenv("HTTPS_PROXY", "http://elsewhere.example.com:3128")
    assert remote.proxies.get("https") == "http://proxy.example.com:3128"  # read once


# --- HTTP errors in a source's words


def auth_error(status: int, where: str, response: Response | None) -> Exception:
    said = response.json().get("error") if response is not None else None
    return ToolAuthError(f"Tool refused ({status}) on {where} saying {said!r}: set the key")


def errors(base_url: str, **options: Any) -> HttpErrors:
    settings: dict[str, Any] = {
        "api": "Tool API",
        "reach": "the Tool API",
        "reach_hint": "check sources.tool.base_url and the network",
        "base_url": base_url,
        "attempts": 4,
        "response_error": ToolResponseError,
        "not_found_error": ToolNotFoundError,
        "unreachable_error": ToolUnreachableError,
        "auth_error": auth_error,
        **options,
    }
    return HttpErrors(**settings)


def failure(
    translator: HttpErrors, call: Callable[[], Any], path: str, page: int | None = None
) -> BaseException:
    with pytest.raises(ToolError) as raised, translator.translated(path, page):
        call()
    return raised.value


def fetch(server: ScriptedServer, path: str, reply: Reply) -> Callable[[], Any]:
    server.script[path] = [reply]
    return lambda: requests.get(server.base_url + path, timeout=5).raise_for_status()


@pytest.mark.parametrize(
    ("reply", "kind", "message", "chained"),
    [
        (
            (401, JSON, b'{"error": "bad key"}'),
            ToolAuthError,
            "Tool refused (401) on GET /syncs page 2 saying 'bad key': set the key",
            True,
        ),
        ((404, JSON, b"{}"), ToolNotFoundError, "GET /syncs page 2 answered 404", False),
        ((410, JSON, b"{}"), ToolResponseError, "Tool API answered 410 on GET /syncs page 2", True),
        (
            (503, HTML, b"<html>"),
            ToolUnreachableError,
            "Tool API kept answering 503 on GET /syncs page 2 after 4 attempts: "
            "retry later or raise [runtime] request_max_attempts",
            True,
        ),
        ((429, JSON, b"{}"), ToolUnreachableError, "Tool API kept answering 429 on", True),
        ((400, JSON, b"{}"), ToolResponseError, "Tool API answered 400 on GET /syncs page 2", True),
    ],
)
def test_http_statuses_become_the_sources_errors_naming_the_request(
    server: ScriptedServer, reply: Reply, kind: type[Exception], message: str, chained: bool
) -> None:
    error = failure(errors(server.base_url), fetch(server, "/syncs", reply), "/syncs", page=2)
    assert type(error) is kind
    assert str(error).startswith(message) and "\n" not in str(error)
    assert isinstance(error.__cause__, requests.HTTPError) is chained


def detail(response: Response | None) -> str:
    return f"detail of {None if response is None else response.status_code}"


def test_the_optional_words_gone_detail_prefixes_and_unchained_errors(
    server: ScriptedServer,
) -> None:
    translator = errors(
        server.base_url,
        gone_error=ToolGoneError,
        status_detail=lambda response: (
            f"detail of {None if response is None else response.status_code}"
        ),
        response_prefix="Tool ",
        path_prefix="/api/v1",
        position="offset",
        keep_cause=False,
    )
    gone = failure(translator, fetch(server, "/runs", (410, JSON, b"{}")), "/runs", page=100)
    assert type(gone) is ToolGoneError and gone.__cause__ is None
    assert str(gone) == "GET /api/v1/runs offset 100 answered 410 (past retention)"
    other = failure(translator, fetch(server, "/runs", (418, JSON, b"{}")), "/runs", page=0)
    assert str(other) == "Tool API answered 418 on GET /api/v1/runs: detail of 418"
    assert other.__cause__ is None and other.__suppress_context__

    def unexpected_json() -> None:
        raise ToolResponseError("answered JSON without the documented 'data' list")

    chaining = errors(server.base_url, gone_error=ToolGoneError)  # 404 and 410 never chain
    gone = failure(chaining, fetch(server, "/runs", (410, JSON, b"{}")), "/runs")
    assert type(gone) is ToolGoneError and gone.__cause__ is None
    refused = failure(chaining, fetch(server, "/runs", (403, JSON, b"{}")), "/runs")
    assert isinstance(refused.__cause__, requests.HTTPError)

    reworded = failure(translator, unexpected_json, "/runs", page=5)
    assert type(reworded) is ToolResponseError
    assert str(reworded) == (
        "Tool GET /api/v1/runs offset 5 answered JSON without the documented 'data' list"
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_api_names_the_host_and_what_to_check(server: ScriptedServer) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    refused = failure(
        errors(base_url), lambda: requests.get(base_url + "/syncs", timeout=5), "/syncs"
    )
    assert type(refused) is ToolUnreachableError
    assert str(refused) == (
        f"Cannot reach the Tool API at {base_url[7:]} (connection failed) on GET /syncs after 4 "
        "attempts: check sources.tool.base_url and the network"
    )
    assert isinstance(refused.__cause__, requests.ConnectionError)

    server.slow_s = 1.0
    server.script["/slow"] = [(200, JSON, b"{}")]
    timed_out = failure(
        errors(server.base_url),
        lambda: requests.get(server.base_url + "/slow", timeout=0.1),
        "/slow",
        page=1,
    )
    assert "(timed out) on GET /slow page 1" in str(timed_out)

    def too_many_redirects() -> None:
        raise requests.TooManyRedirects("loop")

    with pytest.raises(requests.TooManyRedirects), errors(base_url).translated("/syncs"):
        too_many_redirects()  # not a network error unless the source says so
    wider = errors(base_url, network_errors=(requests.RequestException,), keep_cause=False)
    error = failure(wider, too_many_redirects, "/syncs")
    assert "(connection failed)" in str(error) and error.__cause__ is None


def test_errors_that_are_not_http_pass_through(server: ScriptedServer) -> None:
    with pytest.raises(KeyError), errors(server.base_url).translated("/syncs"):
        raise KeyError("id")


# --- reading many syncs at once, and their failures


def job(sync_id: str) -> Generator[list[str], None, str]:
    """Yields `sync_id` pages of runs; sync "bad" fails after its first page."""
    for page in range(int(sync_id) if sync_id.isdigit() else 1):
        yield [f"{sync_id}-{page}-{run}" for run in range(3)]
        time.sleep(0.001)
    if sync_id == "bad":
        raise ToolResponseError("sync bad: broken page")
    return f"cursor of {sync_id}"


@pytest.mark.parametrize("workers", [1, 3, 8])
def test_every_sync_is_read_once_at_any_concurrency(workers: int) -> None:
    sync_ids = ["4", "0", "bad", "7", "1", "3"]
    names: set[str] = set()
    pages: dict[str, list[list[str]]] = {}
    ended: dict[str, object] = {}

    def named_job(sync_id: str) -> Generator[list[str], None, str]:
        names.add(threading.current_thread().name)
        return (yield from job(sync_id))

    for item in read_concurrently(sync_ids, named_job, workers, thread_name="tool-reader"):
        if isinstance(item, Page):
            assert item.sync_id not in ended  # a sync's pages come before its ending
            pages.setdefault(item.sync_id, []).append(item.batch)
        elif isinstance(item, Finished):
            ended[item.sync_id] = item.result
        else:
            assert isinstance(item, Failed)
            ended[item.sync_id] = item.error
    assert set(ended) == set(sync_ids)
    assert {sid: ended[sid] for sid in sync_ids if sid != "bad"} == {
        sid: f"cursor of {sid}" for sid in sync_ids if sid != "bad"
    }
    assert isinstance(ended["bad"], ToolResponseError)
    for sync_id in sync_ids:
        expected = list(job(sync_id)) if sync_id != "bad" else [["bad-0-0", "bad-0-1", "bad-0-2"]]
        assert pages.get(sync_id, []) == expected  # in order within a sync
    if workers == 1:
        assert names == {threading.current_thread().name}
    else:
        assert names and all(name.startswith("tool-reader-") for name in names)


def test_closing_the_reader_early_stops_every_worker() -> None:
    before = threading.active_count()
    reader = read_concurrently([str(n) for n in range(40, 60)], job, 4)
    assert isinstance(next(reader), Page)
    reader.close()
    assert threading.active_count() == before


def test_failed_syncs_are_counted_skipped_or_end_the_load() -> None:
    metrics: dict[str, Any] = {}
    failures = SyncFailures(metrics, ToolNotFoundError, ToolAuthError, ToolError)
    failures.record(Failed("1", ToolNotFoundError("GET /syncs/1/runs answered 404")))
    failures.record(Failed("2", ToolUnreachableError("kept answering 503")))
    assert metrics == {DELETED_SYNCS: ["1"], FAILED_SYNCS: {"2": "kept answering 503"}}
    failures.raise_if_all_failed(3)  # one of three syncs failed: a partial load
    for fatal in (ToolAuthError("refused"), KeyError("a bug, not an API answer")):
        with pytest.raises(type(fatal)):
            failures.record(Failed("3", fatal))
    assert metrics[FAILED_SYNCS] == {"2": "kept answering 503"}

    alone = SyncFailures({}, ToolNotFoundError, ToolAuthError, ToolError)
    first, second = ToolUnreachableError("down"), ToolUnreachableError("still down")
    alone.record(Failed("1", first))
    alone.record(Failed("2", second))
    with pytest.raises(ToolUnreachableError) as raised:
        alone.raise_if_all_failed(2)  # every sync failed: an outage
    assert raised.value is first
