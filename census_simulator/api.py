"""HTTP-free request handling: routes, query parsing, pagination and response envelopes.

Two versions share the routes, envelopes and paging. ``/api/v1`` (workspace API token) sees
only the syncs of ``world.groups[0]``, the token's workspace; everything of another group is
404. ``/api/v2`` (personal access token) sees every group, renders documents with
:func:`~census_simulator.v2.as_v2` and takes path ids in the simulator's v2 id style.
``GET /syncs`` on v2 takes an optional ``group_id`` (an empty value is no filter, an unknown one
404 ``group not found``); other v2 endpoints ignore it. A :class:`~census_simulator.v2.V2Variant`
moves the v2 paths or requires ``group_id`` on every v2 request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from simulator_common.http import Response, json_response

from .quirks import Quirks
from .records import DEFAULT_RECORDS_RETENTION_DAYS, check_filters
from .v2 import (
    DEFAULT_V2_ID_STYLE,
    GROUP_ID_MISSING,
    V2Variant,
    as_v2,
    parse_v2_run_id,
    parse_v2_sync_id,
    v2_run_id,
)
from .world import World

API_PREFIX: Final = "/api/v1"
API_V2_PREFIX: Final = "/api/v2"
DEFAULT_PER_PAGE: Final = 25
MAX_PER_PAGE: Final = 100

SYNCS: Final = "syncs"
SYNC: Final = "sync"
SYNC_RUNS: Final = "sync_runs"
SYNC_RUN: Final = "sync_run"
RECORDS: Final = "records"

_ROUTES: Final = (
    (SYNCS, re.compile(r"/syncs/?")),
    (SYNC_RUNS, re.compile(r"/syncs/([^/]+)/sync_runs/?")),
    (SYNC, re.compile(r"/syncs/([^/]+)/?")),
    (RECORDS, re.compile(r"/sync_runs/([^/]+)/records/?")),
    (SYNC_RUN, re.compile(r"/sync_runs/([^/]+)/?")),
)
_ID: Final = re.compile(r"[0-9]{1,18}")
# The endpoint names of V2Variant.paths, and the route kind each one is.
_VARIANT_KINDS: Final = {
    "sync_runs": SYNC_RUNS,
    "records": RECORDS,
    "sync_run": SYNC_RUN,
    "syncs": SYNCS,
}
_DEFAULT_V2_PATHS: Final = {
    "syncs": "/syncs",
    "sync_runs": "/syncs/{sync_id}/sync_runs",
    "sync_run": "/sync_runs/{run_id}",
    "records": "/sync_runs/{run_id}/records",
}
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


NOT_FOUND: Final = json_response(404, {"status": 404})
UNAUTHORIZED: Final = json_response(401, {"status": "error", "message": "Unauthorized"})
V2_NEEDS_PERSONAL_TOKEN: Final = json_response(
    401,
    {
        "status": "error",
        "message": "Census API v2 requires a personal access token; "
        "workspace API tokens work only with /api/v1",
    },
)
"""The answer to a workspace API token on ``/api/v2``."""
V1_NEEDS_WORKSPACE_TOKEN: Final = json_response(
    401, {"status": "error", "message": "Census API v1 requires a workspace API token"}
)
"""The answer to a personal access token on ``/api/v1``."""
GROUP_NOT_FOUND: Final = json_response(404, {"status": 404, "message": "group not found"})
METHOD_NOT_ALLOWED: Final = Response(
    405,
    json.dumps({"status": "error", "message": "Method Not Allowed"}).encode(),
    (("Allow", "GET"),),
)


def gone(run_id: int | str) -> Response:
    """The 410 for a run whose records are past retention (``run_id`` as the version shows it)."""
    message = f"Records of sync run {run_id} are no longer available"
    return json_response(410, {"status": 410, "message": message})


class BadRequest(ValueError):
    """A query parameter could not be understood (HTTP 400)."""


@dataclass(frozen=True)
class ListParams:
    """Validated ``page`` / ``per_page`` / ``order`` of a list request."""

    page: int
    per_page: int
    descending: bool


def parse_page_params(query: Mapping[str, str]) -> ListParams:
    """``page`` (default 1, below 1 -> 1) and ``per_page`` (default 25, at most 100)."""
    page = _int_param(query, "page", 1)
    per_page = _int_param(query, "per_page", DEFAULT_PER_PAGE)
    if page < 1:
        page = 1
    if per_page < 1:
        per_page = DEFAULT_PER_PAGE
    return ListParams(page, min(per_page, MAX_PER_PAGE), False)


def parse_list_params(query: Mapping[str, str]) -> ListParams:
    """Apply the API's defaults and clamps; raise :class:`BadRequest` for junk values."""
    params = parse_page_params(query)
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise BadRequest(f"order must be 'asc' or 'desc', not {order!r}")
    return ListParams(params.page, params.per_page, order == "desc")


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}") from None


def pagination(total: int, params: ListParams) -> dict[str, int | None]:
    """The ``pagination`` object for ``total`` records."""
    last_page = max(1, -(-total // params.per_page))
    page = params.page
    return {
        "total_records": total,
        "per_page": params.per_page,
        "prev_page": page - 1 if page > 1 else None,
        "page": page,
        "next_page": page + 1 if page < last_page else None,
        "last_page": last_page,
    }


def list_response(
    total: int, docs: list[bytes], params: ListParams, quirks: Quirks | None = None
) -> Response:
    """A paginated success envelope around already-serialized items."""
    block = pagination(total, params)
    if quirks is not None:
        block["total_records"] = total + quirks.total_records_off_by
        if quirks.repeat_first_run and docs:
            docs = [*docs, docs[0]]
    parts = [b'{"status":"success","data":[', b",".join(docs), b"]"]
    if quirks is None or not quirks.drop_pagination:
        parts += [b',"pagination":', json.dumps(block, separators=(",", ":")).encode()]
    return Response(200, b"".join([*parts, b"}"]))


def _served_params(params: ListParams, quirks: Quirks | None) -> ListParams:
    """The page, size and order a quirky server actually serves for `params`."""
    if quirks is None:
        return params
    per_page = params.per_page
    if quirks.cap_per_page is not None:
        per_page = min(per_page, quirks.cap_per_page)
    page = 1 if quirks.ignore_page else params.page
    return ListParams(page, per_page, params.descending and not quirks.ignore_order)


def fetch_response(doc: bytes) -> Response:
    """A fetch success envelope around one serialized item."""
    return Response(200, b'{"status":"success","data":' + doc + b"}")


# ------------------------------------------------------------------ routes
def api_version(path: str) -> int | None:
    """1 or 2 for a path under ``/api/v1`` or ``/api/v2`` (the bare root included), else None."""
    for version, prefix in ((1, API_PREFIX), (2, API_V2_PREFIX)):
        if path == prefix or path.startswith(prefix + "/"):
            return version
    return None


@dataclass(frozen=True)
class Route:
    """A recognized API path; the id is None when the path segment is not a valid id."""

    version: int
    kind: str
    sync_id: int | None = None
    run_id: int | None = None


def variant_routes(paths: Mapping[str, str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Routes for v2 paths moved by a variant (the others keep v1's); a sync is its list's
    path plus ``/{id}``."""
    templates = {**_DEFAULT_V2_PATHS, **paths}
    routes = [(_VARIANT_KINDS[name], _pattern(templates[name])) for name in _VARIANT_KINDS]
    sync = (SYNC, _pattern(templates["syncs"].rstrip("/") + "/{sync_id}"))
    return (*routes[:3], sync, routes[3])


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template.rstrip("/"))
    regex = "".join(
        re.escape(part) if index % 2 == 0 else ("[^/]+" if part == "group_id" else "([^/]+)")
        for index, part in enumerate(parts)
    )
    return re.compile(regex + "/?")


def parse_route(
    path: str,
    v2_id_style: str = DEFAULT_V2_ID_STYLE,
    v2_routes: tuple[tuple[str, re.Pattern[str]], ...] | None = None,
) -> Route | None:
    """The route of ``path`` (with its ``/api/vN`` prefix), or None when there is none."""
    version = api_version(path)
    if version is None:
        return None
    rest = path[len(API_PREFIX if version == 1 else API_V2_PREFIX) :]
    routes = v2_routes if version == 2 and v2_routes is not None else _ROUTES
    for kind, pattern in routes:
        match = pattern.fullmatch(rest)
        if match is None:
            continue
        if kind == SYNCS:
            return Route(version, kind)
        text = match.group(1)
        if kind in (SYNC, SYNC_RUNS):
            sync_id = _parse_id(text) if version == 1 else parse_v2_sync_id(text, v2_id_style)
            return Route(version, kind, sync_id=sync_id)
        run_id = _parse_id(text) if version == 1 else parse_v2_run_id(text, v2_id_style)
        return Route(version, kind, run_id=run_id)
    return None


def visible_sync(world: World, route: Route, sync_id: int | None) -> bool:
    """Whether the route's version may see sync ``sync_id`` (v1: only ``world.groups[0]``)."""
    if sync_id is None:
        return False
    if route.version == 2:
        return True
    try:
        return world.group_of(sync_id) == world.groups[0]
    except KeyError:
        return False


def route_sync_id(world: World, route: Route) -> int | None:
    """The sync a sync route names, if this version may see it (it may be deleted)."""
    return route.sync_id if visible_sync(world, route, route.sync_id) else None


def route_run_id(world: World, route: Route) -> int | None:
    """The run a run route names, if this version may see its sync (it may be deleted)."""
    run_id = route.run_id
    if run_id is None:
        return None
    return run_id if visible_sync(world, route, world.sync_id_of_run(run_id)) else None


def handle_get(
    world: World,
    path: str,
    query: Mapping[str, str],
    *,
    v2_id_style: str = DEFAULT_V2_ID_STYLE,
    records_retention_days: float = DEFAULT_RECORDS_RETENTION_DAYS,
    quirks: Quirks | None = None,
    v2_variant: V2Variant | None = None,
) -> Response:
    """Answer an authorized GET for ``path`` (without query string)."""
    moved = None if v2_variant is None else v2_variant.paths
    routes = variant_routes(moved) if moved else None
    route = parse_route(path, v2_id_style, routes)
    if route is None:
        return NOT_FOUND
    if route.version == 2 and v2_variant is not None and v2_variant.requires_group_id:
        refusal = _group_refusal(world, route, query.get("group_id") or None)
        if refusal is not None:
            return refusal
    render = _renderer(world, route, v2_id_style)
    if quirks is not None and route.kind in (SYNCS, SYNC_RUNS):
        error = quirks.error_body()
        if error is not None:
            return error
    try:
        if route.kind == SYNCS:
            params = parse_list_params(query)
            group = world.groups[0] if route.version == 1 else query.get("group_id") or None
            if group is not None and group not in world.groups:
                return GROUP_NOT_FOUND
            served = params
            if quirks is not None and quirks.ignore_page:
                served = ListParams(1, params.per_page, params.descending)
            total, docs = world.sync_page_json(
                served.page, served.per_page, served.descending, group
            )
            return list_response(total, [render(doc) for doc in docs], params)
        if route.kind == SYNC_RUNS:
            params = parse_list_params(query)
            served = _served_params(params, quirks)
            sync_id = route_sync_id(world, route)
            page = None
            if sync_id is not None:
                page = world.run_page_json(sync_id, served.page, served.per_page, served.descending)
            if page is None:
                return NOT_FOUND
            shown = params if quirks is None or quirks.ignore_page else served
            return list_response(page[0], [render(doc) for doc in page[1]], shown, quirks)
        if route.kind == RECORDS:
            return _records(world, route, query, v2_id_style, records_retention_days)
    except BadRequest as exc:
        return json_response(400, {"status": "error", "message": str(exc)})
    doc = None
    if route.kind == SYNC:
        sync_id = route_sync_id(world, route)
        doc = None if sync_id is None else world.sync_json(sync_id)
    else:
        run_id = route_run_id(world, route)
        doc = None if run_id is None else world.run_json(run_id)
    return NOT_FOUND if doc is None else fetch_response(render(doc))


def _group_refusal(world: World, route: Route, group: str | None) -> Response | None:
    """400 without a group, 404 for an unknown group or a sync or run of another group."""
    if group is None:
        return GROUP_ID_MISSING
    if group not in world.groups:
        return GROUP_NOT_FOUND
    sync_id = route.sync_id if route.run_id is None else world.sync_id_of_run(route.run_id)
    if sync_id is None:
        return None  # an unknown sync or run: the route answers its own 404
    try:
        return None if world.group_of(sync_id) == group else NOT_FOUND
    except KeyError:
        return None


def _records(
    world: World,
    route: Route,
    query: Mapping[str, str],
    v2_id_style: str,
    retention_days: float,
) -> Response:
    """``GET /sync_runs/{id}/records``: 400, then 404, then 410, then the page."""
    params = parse_page_params(query)
    status = query.get("status") or None
    operation = query.get("operation") or None
    primary_identifier = query.get("primary_identifier") or None
    try:
        check_filters(status, operation)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    run_id = route_run_id(world, route)
    if run_id is None or world.run_json(run_id) is None:
        return NOT_FOUND
    if world.records_expired(run_id, retention_days):
        return gone(run_id if route.version == 1 else v2_run_id(run_id, v2_id_style))
    docs = world.records_json(run_id, status, operation, primary_identifier)
    if docs is None:  # its sync was deleted meanwhile
        return NOT_FOUND
    start = (params.page - 1) * params.per_page
    return list_response(len(docs), docs[start : start + params.per_page], params)


class _Renderer:
    """Renders cached v1 JSON of syncs and runs as the route's version serves it."""

    def __init__(self, world: World, style: str) -> None:
        self.world = world
        self.style = style

    def __call__(self, doc: bytes) -> bytes:
        value: dict[str, Any] = json.loads(doc)
        sync_id = value["sync_id"] if "sync_id" in value else value["id"]
        rendered = as_v2(value, self.style, self.world.group_of(sync_id))
        return _ENCODER.encode(rendered).encode("utf-8")


def _identity(doc: bytes) -> bytes:
    return doc


def _renderer(world: World, route: Route, style: str) -> Callable[[bytes], bytes]:
    return _identity if route.version == 1 else _Renderer(world, style)


def _parse_id(text: str) -> int | None:
    return int(text) if _ID.fullmatch(text) else None
