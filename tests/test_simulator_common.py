"""The simulators' shared plumbing over real HTTP: a toy simulator built from the parts."""

from __future__ import annotations

import http.client
import random
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from simulator_common import faults as f
from simulator_common.cli import report_injected, run, serve_until_signal, simulator_parser
from simulator_common.faults import Fault, SeededFaultPlan, as_fault, request_identity
from simulator_common.http import Response, SimulatorHandler, json_response
from simulator_common.lifecycle import ServedSimulator
from simulator_common.log import LoggedRequest, RequestLog

BODY = b'{"hello":"world","padding":"' + b"x" * 200 + b'"}'
PAGE = Response(200, BODY, (("X-Cursor", "next-1"),))
CANNED = {f.STATUS_500: Response(500, b"{}"), f.EMPTY: f.EMPTY_OK}


class Entry(LoggedRequest[dict[str, str]]):
    """The toy's log entry."""


class _Handler(SimulatorHandler["Toy", Entry]):
    entry_class = Entry
    bug_response = json_response(500, {"error": "bug"})

    def authorized(self, path: str) -> bool:
        return self.headers.get("Authorization") == "Bearer toy"

    def refuse(self, entry: Entry) -> Response | None:
        return Response(429, b"busy") if entry.path == "/busy" else None

    def fault_for(self, entry: Entry) -> Fault | None:
        return as_fault(self.simulator.fault)

    def respond(self, entry: Entry) -> Response:
        if entry.path == "/boom":
            raise RuntimeError("simulated bug")
        return PAGE if entry.authorized else Response(401, b"{}")


class _KeepHeadersHandler(_Handler):
    truncate_keeps_headers = True


class Toy(ServedSimulator, RequestLog[Entry]):
    """The smallest simulator: answers PAGE to anything, with ``fault`` applied."""

    handler_class = _Handler

    def __init__(self, fault: Fault | Response | None = None) -> None:
        ServedSimulator.__init__(self, "127.0.0.1", 0)
        RequestLog.__init__(self)
        self.fault = fault
        self.latency = 0.0


class KeepHeadersToy(Toy):
    handler_class = _KeepHeadersHandler


@pytest.fixture
def toy() -> Iterator[Toy]:
    with Toy() as simulator:
        yield simulator


AUTH = {"Authorization": "Bearer toy"}


def get(
    sim: Toy, path: str = "/page", method: str = "GET", body: bytes | None = None
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    conn.request(method, path, body=body, headers=AUTH)
    return conn.getresponse()


# ------------------------------------------------------------------ lifecycle
def test_lifecycle_binds_serves_and_releases_the_port() -> None:
    sim = Toy()
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.port
    with sim:
        assert sim.port > 0
        assert sim.root_url == f"http://127.0.0.1:{sim.port}"
        with pytest.raises(RuntimeError, match="already started"):
            sim.start()
        port = sim.port
        assert get(sim).read() == BODY
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.port
    sim.stop()  # stopping twice is harmless
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port))


def test_stop_cuts_open_keep_alive_connections() -> None:
    sim = Toy().start()
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    conn.request("GET", "/page", headers=AUTH)
    assert conn.getresponse().read() == BODY
    assert conn.sock is not None  # still open: HTTP/1.1 keep-alive
    sim.stop()
    assert conn.sock.recv(1) == b""  # closed by the server, not left hanging


# ------------------------------------------------------------------ handler
def test_send_defaults_to_json_and_keeps_response_headers(toy: Toy) -> None:
    response = get(toy)
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json; charset=utf-8"
    assert response.getheader("Content-Length") == str(len(BODY))
    assert response.getheader("X-Cursor") == "next-1"
    assert response.read() == BODY
    assert [(e.method, e.path, e.status, e.fault) for e in toy.requests] == [
        ("GET", "/page", 200, None)
    ]


def test_head_sends_no_body_and_every_method_is_dispatched(toy: Toy) -> None:
    head = get(toy, method="HEAD")
    assert head.getheader("Content-Length") == str(len(BODY))
    assert head.read() == b""
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert get(toy, method=method, body=b"{}").status == 200
    assert get(toy, method="OPTIONS").status == 501  # not routed by the base
    assert [e.method for e in toy.requests] == ["HEAD", "POST", "PUT", "PATCH", "DELETE"]


def test_a_request_body_is_discarded_so_the_connection_carries_on(toy: Toy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", toy.port, timeout=5)
    conn.request("POST", "/first", body=b"x" * 5000, headers=AUTH)
    assert conn.getresponse().read() == BODY
    conn.request("GET", "/second", headers=AUTH)  # same connection: the body did not leak into it
    assert conn.getresponse().read() == BODY
    with socket.create_connection(("127.0.0.1", toy.port), timeout=5) as raw:
        raw.sendall(b"POST /junk HTTP/1.1\r\nHost: x\r\nContent-Length: junk\r\n\r\n")
        # (no credential: the toy answers 401, the point is that it answers at all)
        assert raw.makefile("rb").readline() == b"HTTP/1.1 401 Unauthorized\r\n"
    assert [e.path for e in toy.requests] == ["/first", "/second", "/junk"]


def test_each_request_is_logged_on_arrival_with_its_query_and_authorization(toy: Toy) -> None:
    assert get(toy, "/page?b=2&a=1&a=3&empty=").status == 200
    conn = http.client.HTTPConnection("127.0.0.1", toy.port, timeout=5)
    conn.request("GET", "/page")  # no credential
    assert conn.getresponse().status == 401
    assert [(e.query, e.authorized, e.status) for e in toy.requests] == [
        ({"b": "2", "a": "3", "empty": ""}, True, 200),
        ({}, False, 401),
    ]


def test_a_refusal_comes_before_latency_and_faults(toy: Toy) -> None:
    toy.latency = 0.4
    toy.fault = Fault(f.STATUS_502, response=f.BAD_GATEWAY)
    began = time.monotonic()
    refused = get(toy, "/busy")
    assert (refused.status, refused.read()) == (429, b"busy")
    assert time.monotonic() - began < 0.3  # not slept
    assert get(toy).status == 502  # not refused: slept, then faulted
    assert time.monotonic() - began >= 0.4
    assert [(e.path, e.status, e.fault) for e in toy.requests] == [
        ("/busy", 429, None),
        ("/page", 502, f.STATUS_502),
    ]


def test_a_handler_bug_answers_the_fallback_and_prints_the_traceback(
    toy: Toy, capsys: pytest.CaptureFixture[str]
) -> None:
    response = get(toy, "/boom")
    assert (response.status, response.read()) == (500, b'{"error": "bug"}')
    assert "RuntimeError: simulated bug" in capsys.readouterr().err
    assert toy.requests[0].status == 500


# ------------------------------------------------------------------ faults applied
def test_a_replacing_fault_is_sent_and_logged(toy: Toy) -> None:
    toy.fault = Fault(f.STATUS_502, response=f.BAD_GATEWAY)
    response = get(toy)
    assert response.status == 502
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert response.read() == f.BAD_GATEWAY.body
    assert [(e.status, e.fault) for e in toy.requests] == [(502, f.STATUS_502)]


def test_a_bare_response_from_the_hook_is_a_custom_fault(toy: Toy) -> None:
    toy.fault = Response(418, b"teapot")
    assert get(toy).status == 418
    assert [(e.status, e.fault) for e in toy.requests] == [(418, f.CUSTOM)]


def test_a_slow_fault_sleeps_then_answers_normally(toy: Toy) -> None:
    toy.fault = Fault(f.SLOW, delay=0.3)
    began = time.monotonic()
    assert get(toy).read() == BODY
    assert time.monotonic() - began >= 0.3
    assert [(e.status, e.fault) for e in toy.requests] == [(200, f.SLOW)]


def test_a_truncated_fault_sends_half_the_body_without_its_headers(toy: Toy) -> None:
    toy.fault = Fault(f.TRUNCATED, truncate=True)
    response = get(toy)
    assert response.status == 200
    assert response.read() == BODY[: len(BODY) // 2]
    assert response.getheader("X-Cursor") is None
    assert [(e.status, e.fault) for e in toy.requests] == [(200, f.TRUNCATED)]


def test_a_truncated_fault_can_keep_the_headers() -> None:
    with KeepHeadersToy(Fault(f.TRUNCATED, truncate=True)) as sim:
        response = get(sim)
        assert response.read() == BODY[: len(BODY) // 2]
        assert response.getheader("X-Cursor") == "next-1"


def test_a_reset_fault_cuts_the_connection_mid_body(toy: Toy) -> None:
    toy.fault = Fault(f.RESET, reset=True)
    response = get(toy)
    assert response.getheader("Content-Length") == str(len(BODY))  # the full length announced
    with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
        response.read()
    assert [(e.status, e.fault) for e in toy.requests] == [(0, f.RESET)]  # nothing complete


# ------------------------------------------------------------------ request log
def test_the_log_hands_out_copies_and_forgets_on_reset(toy: Toy) -> None:
    get(toy, "/page?a=1")
    first = toy.requests[0]
    first.query["a"] = "changed"
    first.status = 999
    assert (toy.requests[0].query, toy.requests[0].status) == ({"a": "1"}, 200)
    toy.reset_log()
    assert toy.requests == []


# ------------------------------------------------------------------ seeded decisions
class Plan(SeededFaultPlan):
    known_kinds = (f.STATUS_500, f.RESET, f.SLOW, f.TRUNCATED, f.EMPTY, "grow")

    def __init__(self, seed: int, rate: float, kinds: Any = known_kinds, **options: Any) -> None:
        super().__init__(seed, rate, kinds, **options)
        self.grown = 0

    def decide(self, path: str, query: dict[str, str] | None = None) -> Fault | None:
        def make(kind: str, rng: random.Random) -> Fault | None:
            if kind == "grow":  # a world-changing kind that applies only under /grow
                if not path.startswith("/grow"):
                    return None
                self.grown += 1
                return Fault(kind)
            return self.standard_fault(kind, CANNED)

        return self.draw("GET", path, query or {}, make)


def kinds_of(plan: Plan, paths: list[str]) -> list[str | None]:
    return [None if (fault := plan.decide(p)) is None else fault.kind for p in paths]


def test_decisions_follow_seed_identity_and_repeat_count_only() -> None:
    paths = [f"/p/{n % 7}" for n in range(300)]
    one = kinds_of(Plan(seed=4, rate=0.4), paths)
    assert one == kinds_of(Plan(seed=4, rate=0.4), paths)  # reproducible
    assert one != kinds_of(Plan(seed=5, rate=0.4), paths)  # the seed matters
    # Interleaving does not matter: each identity sees the same sequence of decisions.
    reordered = sorted(range(300), key=lambda n: (n % 7, n))
    plan = Plan(seed=4, rate=0.4)
    by_index = dict(zip(reordered, kinds_of(plan, [paths[n] for n in reordered]), strict=True))
    assert [by_index[n] for n in range(300)] == one
    assert 0.25 < sum(k is not None for k in one) / len(one) < 0.55


def test_the_query_is_part_of_the_identity_in_any_order() -> None:
    assert request_identity("GET", "/x", {"b": "2", "a": "1"}) == "GET /x?a=1&b=2"
    assert request_identity("GET", "/x", [("b", "2"), ("a", "1")]) == "GET /x?a=1&b=2"
    plan, other = Plan(seed=1, rate=0.5), Plan(seed=1, rate=0.5)
    for page in range(50):
        assert plan.decide("/x", {"page": str(page), "per_page": "100"}) == other.decide(
            "/x", {"per_page": "100", "page": str(page)}
        )


def test_rate_bounds_and_injected_counts() -> None:
    assert kinds_of(Plan(seed=2, rate=0.0), ["/a"] * 50) == [None] * 50
    always = Plan(seed=2, rate=1.0, kinds=[f.STATUS_500, f.EMPTY])
    drawn = kinds_of(always, [f"/a/{n}" for n in range(60)])
    assert None not in drawn
    assert always.injected == Counter(drawn)
    assert set(drawn) == {f.STATUS_500, f.EMPTY}


def test_max_consecutive_lets_the_next_attempt_through() -> None:
    plan = Plan(seed=3, rate=1.0, kinds=[f.STATUS_500], max_consecutive=2)
    assert kinds_of(plan, ["/a"] * 7) == [f.STATUS_500, f.STATUS_500, None] * 2 + [f.STATUS_500]


def test_only_paths_leaves_other_requests_alone_and_uncounted() -> None:
    plan = Plan(seed=3, rate=1.0, kinds=[f.STATUS_500], only_paths=r"^/runs")
    assert kinds_of(plan, ["/syncs", "/runs/1", "/syncs"]) == [None, f.STATUS_500, None]
    assert plan.injected == Counter({f.STATUS_500: 1})


def test_a_kind_that_cannot_apply_is_no_fault_and_not_counted() -> None:
    plan = Plan(seed=3, rate=1.0, kinds=["grow"])
    assert kinds_of(plan, ["/other", "/grow", "/grow/2"]) == [None, "grow", "grow"]
    assert (plan.grown, plan.injected) == (2, Counter({"grow": 2}))


def test_standard_faults_need_no_world() -> None:
    plan = Plan(seed=0, rate=1.0, slow_seconds=0.25)
    canned = {f.STATUS_500: Response(500, b"{}")}
    assert plan.standard_fault(f.STATUS_500, canned) == Fault(f.STATUS_500, response=canned["500"])
    assert plan.standard_fault(f.RESET, canned) == Fault(f.RESET, reset=True)
    assert plan.standard_fault(f.SLOW, canned) == Fault(f.SLOW, delay=0.25)
    assert plan.standard_fault(f.TRUNCATED, canned) == Fault(f.TRUNCATED, truncate=True)
    assert plan.standard_fault("grow", canned) is None


def test_kinds_are_kept_in_canonical_order_and_bad_options_are_named() -> None:
    assert Plan(seed=0, rate=0.1, kinds=["grow", f.RESET]).kinds == (f.RESET, "grow")
    with pytest.raises(ValueError, match=r"rate must be within \[0, 1\], not 1.5"):
        Plan(seed=0, rate=1.5)
    with pytest.raises(ValueError, match="at least one"):
        Plan(seed=0, rate=0.1, kinds=[])
    with pytest.raises(ValueError, match=r"unknown fault kinds \['nope'\]; known: 500, reset"):
        Plan(seed=0, rate=0.1, kinds=["nope", f.RESET])
    with pytest.raises(ValueError, match="max_consecutive must be >= 0"):
        Plan(seed=0, rate=0.1, max_consecutive=-1)
    with pytest.raises(ValueError, match="slow_seconds must be >= 0"):
        Plan(seed=0, rate=0.1, slow_seconds=-1)


# ------------------------------------------------------------------ runner
def test_report_injected_prints_counts_or_none(capsys: pytest.CaptureFixture[str]) -> None:
    report_injected("toy", None)
    assert capsys.readouterr().err == ""
    plan = Plan(seed=2, rate=1.0, kinds=[f.EMPTY])
    report_injected("toy", plan)
    assert capsys.readouterr().err == "toy: injected faults: none\n"
    kinds_of(plan, ["/a", "/b"])
    report_injected("toy", plan)
    assert capsys.readouterr().err == "toy: injected faults: empty=2\n"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_until_signal_serves_then_stops_cleanly(signum: int) -> None:
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    sim = Toy()
    seen: list[bytes] = []
    ticks: list[float] = []

    def announce() -> None:  # runs once bound: serve a request, then ask to stop
        seen.append(get(sim).read())
        threading.Timer(0.3, signal.raise_signal, (signum,)).start()

    def _fail(sig: int, frame: FrameType | None) -> None:
        raise AssertionError("the runner's handler was not installed")

    try:
        for s in previous:
            signal.signal(s, _fail)
        serve_until_signal(sim, announce, tick=0.05, on_tick=lambda: ticks.append(time.monotonic()))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert seen == [BODY]
    assert len(ticks) >= 2  # on_tick ran while serving
    with pytest.raises(RuntimeError, match="not started"):  # stopped on the way out
        _ = sim.port


def test_the_parser_has_the_shared_options() -> None:
    parser = simulator_parser("toy_simulator", "A toy.", default_port=8799)
    assert parser.prog == "python -m toy_simulator"
    args = parser.parse_args([])
    assert (args.seed, args.host, args.port) == (0, "127.0.0.1", 8799)
    args = parser.parse_args(["--seed", "4", "--host", "0.0.0.0", "--port", "0"])
    assert (args.seed, args.host, args.port) == (4, "0.0.0.0", 0)


def test_run_announces_urls_then_stats_and_reports_faults_on_exit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    sim = Toy()
    plan = Plan(seed=2, rate=1.0, kinds=[f.EMPTY])
    kinds_of(plan, ["/a"])

    def urls() -> list[str]:  # called once bound: stop a moment later
        threading.Timer(0.2, signal.raise_signal, (signal.SIGTERM,)).start()
        return [sim.root_url, sim.root_url + "/v2"]

    try:
        code = run("toy_simulator", sim, urls, lambda: "3 runs", plan, tick=0.05)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    out, err = capsys.readouterr()
    assert code == 0
    port = out.split(":")[2].split("\n")[0]
    assert out == f"http://127.0.0.1:{port}\nhttp://127.0.0.1:{port}/v2\n"
    assert err == "toy_simulator: 3 runs\ntoy_simulator: injected faults: empty=1\n"
