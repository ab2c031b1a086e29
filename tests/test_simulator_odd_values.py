"""The simulators' seeded odd payloads over real HTTP: determinism, coverage and ground truth.

Per vendor (Census, Hightouch, Files.com), with ``OddValues(seed, rate=0.2)``: the same seed
serves the same bytes; every kind the vendor's fields allow is injected; a same-meaning
encoding means the ground-truth value; each stored unfit value is served verbatim; without odd
values (or at rate 0) the answers are the old ones. Bodies are parsed with the standard
library's ``json`` so huge integers stay exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

import census_simulator
import files_com_simulator
import hightouch_simulator
from census_simulator import __main__ as census_main
from files_com_simulator import __main__ as files_com_main
from hightouch_simulator import __main__ as hightouch_main
from simulator_common.odd_values import (
    ALL_ODD_KINDS,
    STORED_KINDS,
    WIRE_KINDS,
    OddEncoding,
    OddFields,
    OddValues,
)

SEED = 7
RATE = 0.2
COUNTS = (60, 120, 140)
CENSUS_AUTH = {"Authorization": "Bearer sim-token"}
HIGHTOUCH_AUTH = {"Authorization": "Bearer sim-token"}
FILES_COM_AUTH = {"X-FilesAPI-Key": files_com_simulator.DEFAULT_API_KEY}

Run = dict[str, Any]


# ------------------------------------------------------------------ vendors
@dataclass(frozen=True)
class Vendor:
    """How to build, serve and read one vendor's simulator."""

    name: str
    fields: OddFields
    protected: tuple[str, ...]
    """Fields no odd value may touch (ids, the created-at cursor)."""
    make_world: Callable[[OddValues | None], Any]
    serve: Callable[[Any], AbstractContextManager[Any]]
    list_bodies: Callable[[Any, Any, requests.Session], list[bytes]]
    """The raw bodies of every list page of every sync, in a fixed order."""
    runs_of: Callable[[bytes], list[Run]]
    fetch_one: Callable[[Any, Any, requests.Session, int], Run]
    truth: Callable[[Any], dict[int, Run]]
    update_run: Callable[[Any, int, dict[str, Any]], None]


def _census_list(sim: Any, world: Any, http: requests.Session) -> list[bytes]:
    bodies = []
    for sync in world.syncs:
        page: int | None = 1
        while page is not None:
            params: dict[str, Any] = {"per_page": 100, "page": page, "order": "asc"}
            response = http.get(
                f"{sim.base_url}/syncs/{sync['id']}/sync_runs",
                params=params,
                headers=CENSUS_AUTH,
                timeout=10,
            )
            assert response.status_code == 200, response.text
            bodies.append(response.content)
            page = json.loads(response.content)["pagination"]["next_page"]
    return bodies


def _census_one(sim: Any, world: Any, http: requests.Session, run_id: int) -> Run:
    response = http.get(f"{sim.base_url}/sync_runs/{run_id}", headers=CENSUS_AUTH, timeout=10)
    assert response.status_code == 200, response.text
    run: Run = json.loads(response.content)["data"]
    return run


def _hightouch_list(sim: Any, world: Any, http: requests.Session) -> list[bytes]:
    bodies = []
    for sync in world.syncs:
        offset, more = 0, True
        while more:
            response = http.get(
                f"{sim.base_url}/api/v1/syncs/{sync['id']}/runs",
                params={"limit": 100, "offset": offset},
                headers=HIGHTOUCH_AUTH,
                timeout=10,
            )
            assert response.status_code == 200, response.text
            bodies.append(response.content)
            more = json.loads(response.content)["hasMore"]
            offset += 100
    return bodies


def _hightouch_one(sim: Any, world: Any, http: requests.Session, run_id: int) -> Run:
    sync_id = world.sync_of_run(run_id)
    response = http.get(
        f"{sim.base_url}/api/v1/syncs/{sync_id}/runs",
        params={"runId": run_id},
        headers=HIGHTOUCH_AUTH,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    (run,) = json.loads(response.content)["data"]
    assert isinstance(run, dict)
    return run


def _hightouch_truth(world: Any) -> dict[int, Run]:
    runs = world.ground_truth_runs()
    return {run["id"]: {k: v for k, v in run.items() if k != "syncId"} for run in runs}


def _files_com_list(sim: Any, world: Any, http: requests.Session) -> list[bytes]:
    bodies = []
    params: dict[str, Any] = {"per_page": 200}
    while True:
        response = http.get(
            f"{sim.base_url}/sync_runs", params=params, headers=FILES_COM_AUTH, timeout=10
        )
        assert response.status_code == 200, response.text
        bodies.append(response.content)
        cursor = response.headers.get("X-Files-Cursor-Next")
        if cursor is None:
            return bodies
        params = {"per_page": 200, "cursor": cursor}


def _files_com_one(sim: Any, world: Any, http: requests.Session, run_id: int) -> Run:
    response = http.get(f"{sim.base_url}/sync_runs/{run_id}", headers=FILES_COM_AUTH, timeout=10)
    assert response.status_code == 200, response.text
    run: Run = json.loads(response.content)
    return run


def _by_id(runs: list[Run]) -> dict[int, Run]:
    return {run["id"]: run for run in runs}


CENSUS = Vendor(
    name="census",
    fields=census_simulator.ODD_FIELDS,
    protected=("id", "sync_id", "created_at"),
    make_world=lambda odd: census_simulator.World(seed=SEED, sync_run_counts=COUNTS, odd=odd),
    serve=lambda world: census_simulator.CensusSimulator(world),
    list_bodies=_census_list,
    runs_of=lambda body: list(json.loads(body)["data"]),
    fetch_one=_census_one,
    truth=lambda world: _by_id(world.ground_truth_runs()),
    update_run=lambda world, run_id, fields: world.update_run(run_id, **fields),
)
HIGHTOUCH = Vendor(
    name="hightouch",
    fields=hightouch_simulator.ODD_FIELDS,
    protected=("id", "createdAt"),
    make_world=lambda odd: hightouch_simulator.World(seed=SEED, sync_run_counts=COUNTS, odd=odd),
    serve=lambda world: hightouch_simulator.HightouchSimulator(
        world, rate_limit=None, quirks=hightouch_simulator.ApiQuirks(numeric_run_ids=True)
    ),
    list_bodies=_hightouch_list,
    runs_of=lambda body: list(json.loads(body)["data"]),
    fetch_one=_hightouch_one,
    truth=_hightouch_truth,
    update_run=lambda world, run_id, fields: world.update_run(run_id, **fields),
)
FILES_COM = Vendor(
    name="files_com",
    fields=files_com_simulator.ODD_FIELDS,
    protected=("id", "sync_id", "site_id", "workspace_id", "created_at"),
    make_world=lambda odd: files_com_simulator.World(seed=SEED, sync_run_counts=COUNTS, odd=odd),
    serve=lambda world: files_com_simulator.FilesComSimulator(world),
    list_bodies=_files_com_list,
    runs_of=lambda body: list(json.loads(body)),
    fetch_one=_files_com_one,
    truth=lambda world: _by_id(world.ground_truth_runs()),
    update_run=lambda world, run_id, fields: world.update_run(run_id, **fields),
)
VENDORS = (CENSUS, HIGHTOUCH, FILES_COM)


@dataclass
class Served:
    """One vendor's odd world, its simulator, and every run as one full listing served it."""

    vendor: Vendor
    world: Any
    sim: Any
    http: requests.Session
    bodies: list[bytes]
    runs: dict[int, Run]


def _serve_all(vendor: Vendor, world: Any, sim: Any, http: requests.Session) -> Served:
    bodies = vendor.list_bodies(sim, world, http)
    runs = _by_id([run for body in bodies for run in vendor.runs_of(body)])
    return Served(vendor, world, sim, http, bodies, runs)


@pytest.fixture(scope="module", params=VENDORS, ids=[vendor.name for vendor in VENDORS])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """A world with odd values (rate 0.2) served over HTTP, listed once in full."""
    vendor: Vendor = request.param
    world = vendor.make_world(OddValues(seed=SEED, rate=RATE))
    with vendor.serve(world) as sim, requests.Session() as http:
        yield _serve_all(vendor, world, sim, http)


# ------------------------------------------------------------------ helpers
def _flat(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A run's fields with nested objects as dotted paths."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(_flat(item, path + "."))
        else:
            flat[path] = item
    return flat


def _get(run: Mapping[str, Any], field: str) -> Any:
    node: Any = run
    for part in field.split("."):
        node = node[part]
    return node


def _same(a: Any, b: Any) -> bool:
    """The same JSON value: equal, and of the same JSON type (True is not 1, 12.0 is not 12)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _fraction(text: str) -> str:
    """The fractional-second digits of an ISO timestamp ('' for whole seconds)."""
    seconds = text[17:]
    return seconds[2:].split("Z")[0].split("+")[0].split("-")[0] if seconds[2:3] == "." else ""


def _assert_same_meaning(kind: str, served: Any, truth: Any) -> None:
    if kind == "count_as_string":
        assert isinstance(served, str) and served.lstrip("-").isdigit() and int(served) == truth
    elif kind == "count_as_float":
        assert type(served) is float and served.is_integer() and int(served) == truth
    elif kind in ("timestamp_with_offset", "timestamp_naive"):
        assert isinstance(served, str) and isinstance(truth, str)
        assert _instant(served) == _instant(truth)
        assert _fraction(served) == _fraction(truth)  # the precision is kept
        has_zone = datetime.fromisoformat(served).tzinfo is not None
        assert has_zone is (kind == "timestamp_with_offset")
        assert not served.endswith("Z")
    elif kind == "flag_as_string":
        assert type(truth) is bool and served == ("true" if truth else "false")
    else:
        raise AssertionError(f"not a same-meaning kind: {kind}")


def _check_against_truth(served: Served) -> None:
    """Served runs = ground truth, but for same-meaning encodings that mean the same value."""
    world, vendor = served.world, served.vendor
    truth = vendor.truth(world)
    encodings: dict[tuple[int, str], OddEncoding] = {
        (found.run_id, found.field): found for found in world.odd_encodings()
    }
    assert served.runs.keys() <= truth.keys()
    differing = 0
    for run_id, run in served.runs.items():
        sent, stored = _flat(run), _flat(truth[run_id])
        assert sent.keys() == stored.keys(), run_id
        for field, value in sent.items():
            encoding = encodings.get((run_id, field))
            if encoding is None:
                assert _same(value, stored[field]), (run_id, field, value, stored[field])
                continue
            differing += 1
            assert field not in vendor.protected
            assert field in vendor.fields.wire_fields(encoding.kind)
            assert _same(value, encoding.served)
            _assert_same_meaning(encoding.kind, value, stored[field])
    assert differing > 0


def _check_odd_values_verbatim(served: Served) -> None:
    """Every stored unfit value is in the ground truth and served exactly as stored."""
    world, vendor = served.world, served.vendor
    truth = vendor.truth(world)
    allowed = {field for kind in STORED_KINDS for field in vendor.fields.stored_fields(kind)}
    odd_values = world.odd_values()
    assert odd_values
    for run_id, field, value in odd_values:
        assert field in allowed and field not in vendor.protected
        assert _same(_get(truth[run_id], field), value)
        if run_id not in served.runs:  # only runs of deleted syncs are not listed
            continue
        sent = _get(served.runs[run_id], field)
        assert _same(sent, value), (run_id, field, sent, value)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            assert type(sent) is int and sent == value  # exact, not a float


# ------------------------------------------------------------------ tests
def test_same_seed_serves_identical_bytes(served: Served) -> None:
    vendor = served.vendor
    again = vendor.list_bodies(served.sim, served.world, served.http)
    assert again == served.bodies  # the same world, served twice
    twin = vendor.make_world(OddValues(seed=SEED, rate=RATE))
    with vendor.serve(twin) as sim, requests.Session() as http:
        assert vendor.list_bodies(sim, twin, http) == served.bodies  # a fresh world, same seed
    other = vendor.make_world(OddValues(seed=SEED + 1, rate=RATE))
    with vendor.serve(other) as sim, requests.Session() as http:
        assert vendor.list_bodies(sim, other, http) != served.bodies


def test_a_run_fetched_alone_is_encoded_as_in_the_list(served: Served) -> None:
    encoded = sorted({found.run_id for found in served.world.odd_encodings()})
    spoiled = sorted({run_id for run_id, _, _ in served.world.odd_values()})
    for run_id in [*encoded[:15], *spoiled[:15]]:
        if run_id in served.runs:
            one = served.vendor.fetch_one(served.sim, served.world, served.http, run_id)
            assert _same(one, served.runs[run_id])


def test_every_applicable_kind_is_injected(served: Served) -> None:
    fields = served.vendor.fields
    assert len(served.runs) >= 300
    injected = served.world.odd_injected()
    applicable = fields.applicable_kinds()
    assert set(applicable) <= set(ALL_ODD_KINDS)
    missing = [kind for kind in applicable if injected[kind] < 1]
    assert not missing, injected
    assert set(injected) <= set(applicable)
    stored_kinds = [kind for kind in applicable if kind in STORED_KINDS]
    wire_kinds = [kind for kind in applicable if kind in WIRE_KINDS]
    assert sum(injected[kind] for kind in stored_kinds) == len(served.world.odd_values())
    encodings = served.world.odd_encodings()
    assert {found.kind for found in encodings} == set(wire_kinds)
    # each encoding hits about `rate` of the fields eligible for it
    flat_runs = [_flat(run) for run in served.runs.values()]
    for kind in wire_kinds:
        eligible = sum(
            1
            for flat in flat_runs
            for field in fields.wire_fields(kind)
            if flat.get(field) is not None
        )
        hits = sum(1 for found in encodings if found.kind == kind)
        assert 0.5 * RATE * eligible <= hits <= 1.5 * RATE * eligible, (kind, hits, eligible)


def test_same_meaning_encodings_mean_the_ground_truth(served: Served) -> None:
    _check_against_truth(served)


def test_stored_unfit_values_are_served_verbatim(served: Served) -> None:
    _check_odd_values_verbatim(served)
    huge = [value for _, _, value in served.world.odd_values() if type(value) is int]
    assert huge and all(str(value).encode() in b"".join(served.bodies) for value in huge)


@pytest.mark.parametrize("vendor", VENDORS, ids=[vendor.name for vendor in VENDORS])
def test_without_odd_values_nothing_changes(vendor: Vendor) -> None:
    plain = vendor.make_world(None)
    off = vendor.make_world(OddValues(seed=SEED, rate=0.0))
    spoiled = vendor.make_world(OddValues(seed=SEED, rate=RATE))
    assert plain.odd_values() == [] and plain.odd_encodings() == [] and not plain.odd_injected()
    bodies = []
    for world in (plain, off):
        with vendor.serve(world) as sim, requests.Session() as http:
            bodies.append(vendor.list_bodies(sim, world, http))
    assert bodies[0] == bodies[1]
    assert vendor.truth(plain) == vendor.truth(off)
    assert not off.odd_injected() and off.odd_values() == [] and off.odd_encodings() == []
    # with odd values, the runs that got no unfit value are stored as without
    odd_ids = {run_id for run_id, _, _ in spoiled.odd_values()}
    expected, actual = vendor.truth(plain), vendor.truth(spoiled)
    assert expected.keys() == actual.keys()
    assert all(_same(expected[i], actual[i]) for i in expected if i not in odd_ids)
    assert all(not _same(expected[i], actual[i]) for i in odd_ids)


@pytest.mark.parametrize("vendor", VENDORS, ids=[vendor.name for vendor in VENDORS])
def test_odd_worlds_evolve_and_stay_truthful(vendor: Vendor) -> None:
    world = vendor.make_world(OddValues(seed=SEED, rate=RATE))
    before = {run_id for run_id, _, _ in world.odd_values()}
    world.advance(seconds=3600)
    world.advance(seconds=3600)
    after = {run_id for run_id, _, _ in world.odd_values()}
    assert after - before  # new runs get unfit values too
    with vendor.serve(world) as sim, requests.Session() as http:
        served = _serve_all(vendor, world, sim, http)
        _check_against_truth(served)
        _check_odd_values_verbatim(served)


HOSTILE_VALUES: tuple[Any, ...] = (
    "",
    "  ",
    {"code": "E42", "detail": {"row": 3, "big": 2**70}},
    [1, "two", None, {"three": [3.5]}],
    2**70,
    -(2**64),
    12.5,
    True,
    None,
    "\u202e\u0007 e\u0301 😀",
    1e308,
)


@pytest.mark.parametrize("vendor", VENDORS, ids=[vendor.name for vendor in VENDORS])
def test_serving_never_crashes_on_any_stored_json_value(vendor: Vendor) -> None:
    world = vendor.make_world(None)
    truth = vendor.truth(world)
    run_id = max(run_id for run_id, run in truth.items() if run.get("status") is not None)
    fields = [field for field in truth[run_id] if field not in vendor.protected]
    with vendor.serve(world) as sim, requests.Session() as http:
        for value in HOSTILE_VALUES:
            vendor.update_run(world, run_id, {field: value for field in fields})
            one = vendor.fetch_one(sim, world, http, run_id)
            assert _same(one, world.run(run_id))
            assert all(_same(one[field], value) for field in fields)
            for response in _extra_requests(vendor, sim, world, http, run_id):
                assert response.status_code in (200, 410), (value, response.text)


def _extra_requests(
    vendor: Vendor, sim: Any, world: Any, http: requests.Session, run_id: int
) -> list[requests.Response]:
    """Requests that read stored fields in other ways: lists, records, sorts and filters."""
    if vendor is CENSUS:
        url = f"{sim.base_url}/sync_runs/{run_id}/records"
        v2 = {"Authorization": "Bearer sim-pat"}
        sync_id = world.sync_id_of_run(run_id)
        listed = f"{sim.base_url}/syncs/{sync_id}/sync_runs"
        return [
            http.get(listed, headers=CENSUS_AUTH, timeout=10),
            http.get(url, headers=CENSUS_AUTH, timeout=10),
            http.get(f"{sim.base_url_v2}/sync_runs/{run_id}", headers=v2, timeout=10),
            http.get(f"{sim.base_url_v2}/syncs/{sync_id}/sync_runs", headers=v2, timeout=10),
        ]
    if vendor is HIGHTOUCH:
        sync_id = world.sync_of_run(run_id)
        url = f"{sim.base_url}/api/v1/syncs/{sync_id}/runs"
        return [
            http.get(url, params={"orderBy": order}, headers=HIGHTOUCH_AUTH, timeout=10)
            for order in ("startedAt", "finishedAt", "createdAt")
        ] + [
            http.get(
                url, params={"after": "2000-01-01T00:00:00Z"}, headers=HIGHTOUCH_AUTH, timeout=10
            ),
            http.get(f"{sim.base_url}/api/v1/syncs", headers=HIGHTOUCH_AUTH, timeout=10),
        ]
    url = f"{sim.base_url}/sync_runs"
    params: list[dict[str, Any]] = [
        {"per_page": 1000},
        {"sort_by[status]": "desc"},
        {"sort_by[sync_id]": "asc"},
        {"filter[status]": "success"},
        {"filter[dry_run]": "true"},
    ]
    return [http.get(url, params=p, headers=FILES_COM_AUTH, timeout=10) for p in params]


@pytest.mark.parametrize(
    "parse", [census_main._parse_args, hightouch_main._parse_args, files_com_main._parse_args]
)
def test_runners_take_odd_rate_with_the_seed(parse: Callable[[list[str]], Any]) -> None:
    assert parse([]).odd is None
    assert parse(["--odd-rate", "0"]).odd is None
    odd = parse(["--seed", "3", "--odd-rate", "0.05"]).odd
    assert isinstance(odd, OddValues) and (odd.seed, odd.rate) == (3, 0.05)
    assert odd.kinds == ALL_ODD_KINDS
    with pytest.raises(SystemExit):
        parse(["--odd-rate", "1.5"])


def test_odd_values_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rate"):
        OddValues(seed=1, rate=-0.1)
    with pytest.raises(ValueError, match="unknown odd kinds"):
        OddValues(seed=1, rate=0.1, kinds=("count_as_string", "nope"))
    with pytest.raises(ValueError, match="at least one"):
        OddValues(seed=1, rate=0.1, kinds=())
    only = OddValues(seed=1, rate=0.1, kinds=("huge_int", "timestamp_naive"))
    assert only.kinds == ("timestamp_naive", "huge_int")
