"""HTTP-free request handling: routes, query parameters, filters, paging and JSON envelopes.

Endpoints (under ``/api/v1``): ``GET /syncs``, ``GET /syncs/{id}``, ``GET /syncs/{id}/runs``.
Lists answer ``{"data": [...], "hasMore": bool}`` and page with ``limit`` / ``offset``.

Assumptions where the public docs are silent:
- ``limit`` above 100 is served as 100; below 1, or not an integer, is a 400. A negative
  ``offset`` is a 400. Defaults: 100 syncs, 5 runs (documented).
- ``orderBy`` sorts ascending, ties by id; the default is ``id``.
- ``after`` / ``before`` compare a run's ``startedAt`` strictly (``>`` / ``<``); ``within``
  (minutes) keeps runs started in the last N minutes of the simulated clock. On ``/syncs`` they
  compare ``lastRunAt``. An unparsable timestamp is a 400.
- Errors answer ``{"message": "..."}``; an unknown sync is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from simulator_common.http import Response, json_response

from .generator import US_PER_S, parse_us, to_us
from .world import World

API_PREFIX: Final = "/api/v1"
DEFAULT_SYNC_LIMIT: Final = 100
DEFAULT_RUN_LIMIT: Final = 5
MAX_LIMIT: Final = 100
SYNC_ORDERS: Final = ("id", "name", "slug", "createdAt", "updatedAt")
RUN_ORDERS: Final = ("id", "createdAt", "startedAt", "finishedAt")

_SYNCS: Final = re.compile(r"/syncs/?")
_SYNC: Final = re.compile(r"/syncs/([^/]+)/?")
_SYNC_RUNS: Final = re.compile(r"/syncs/([^/]+)/runs/?")


def error_response(status: int, message: str) -> Response:
    """The API's error envelope."""
    return json_response(status, {"message": message})


NOT_FOUND: Final = error_response(404, "Not found")
UNAUTHORIZED: Final = error_response(401, "Unauthorized: invalid or missing API key")
METHOD_NOT_ALLOWED: Final = Response(405, b'{"message":"Method not allowed"}', (("Allow", "GET"),))


class BadRequest(ValueError):
    """A query parameter could not be understood (HTTP 400)."""


def handle_get(world: World, path: str, query: Mapping[str, str]) -> Response:
    """Answer an authorized GET for ``path`` (without its query string)."""
    if not path.startswith(API_PREFIX + "/"):
        return NOT_FOUND
    route = path[len(API_PREFIX) :]
    try:
        if _SYNCS.fullmatch(route):
            return _list_syncs(world, query)
        if match := _SYNC_RUNS.fullmatch(route):
            return _list_runs(world, match.group(1), query)
    except BadRequest as exc:
        return error_response(400, str(exc))
    if match := _SYNC.fullmatch(route):
        sync = world.sync(match.group(1))
        return NOT_FOUND if sync is None else json_response(200, sync)
    return NOT_FOUND


def _list_syncs(world: World, query: Mapping[str, str]) -> Response:
    limit, offset = _paging(query, DEFAULT_SYNC_LIMIT)
    order = _order(query, SYNC_ORDERS)
    keep = _time_filter(query, "lastRunAt", world)
    slug = query.get("slug")
    model_id = query.get("modelId")

    def select(sync: Mapping[str, Any]) -> bool:
        if slug is not None and sync.get("slug") != slug:
            return False
        if model_id is not None and sync.get("modelId") != model_id:
            return False
        return keep(sync)

    field = "slug" if order == "name" else order
    page, total = world.query_syncs(select, field, offset, limit)
    return _list(page, total, offset)


def _list_runs(world: World, sync_id: str, query: Mapping[str, str]) -> Response:
    limit, offset = _paging(query, DEFAULT_RUN_LIMIT)
    order = _order(query, RUN_ORDERS)
    keep = _time_filter(query, "startedAt", world)
    run_id = _int(query, "runId")

    def select(run: Mapping[str, Any]) -> bool:
        return (run_id is None or run.get("id") == run_id) and keep(run)

    answer = world.query_runs(sync_id, select, order, offset, limit)
    if answer is None:
        return NOT_FOUND
    page, total = answer
    return _list([world.wire_form(run) for run in page], total, offset)


def _list(page: Sequence[Mapping[str, Any]], total: int, offset: int) -> Response:
    return json_response(200, {"data": page, "hasMore": offset + len(page) < total})


def _paging(query: Mapping[str, str], default_limit: int) -> tuple[int, int]:
    limit = _int(query, "limit")
    offset = _int(query, "offset")
    if limit is not None and limit < 1:
        raise BadRequest(f"limit must be a positive integer, not {limit}")
    if offset is not None and offset < 0:
        raise BadRequest(f"offset must not be negative, not {offset}")
    return min(limit or default_limit, MAX_LIMIT), offset or 0


def _order(query: Mapping[str, str], allowed: tuple[str, ...]) -> str:
    order = query.get("orderBy") or "id"
    if order not in allowed:
        raise BadRequest(f"orderBy must be one of {', '.join(allowed)}, not {order!r}")
    return order


def _int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}") from None


def _instant(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_us(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 timestamp, not {raw!r}") from None


def _time_filter(
    query: Mapping[str, str], field: str, world: World
) -> Callable[[Mapping[str, Any]], bool]:
    """The `after` / `before` / `within` filter on one timestamp field."""
    after = _instant(query, "after")
    before = _instant(query, "before")
    within = _int(query, "within")
    if within is not None:
        since = to_us(world.now) - within * 60 * US_PER_S
        after = since if after is None else max(after, since)
    if after is None and before is None:
        return lambda item: True

    def keep(item: Mapping[str, Any]) -> bool:
        value = item.get(field)
        if not isinstance(value, str):
            return False
        try:
            instant = parse_us(value)
        except ValueError:  # not a timestamp: a test stored something odd
            return False
        return (after is None or instant > after) and (before is None or instant < before)

    return keep
