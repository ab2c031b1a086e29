"""HTTP-free request handling: routes, query parameters, filters, paging and JSON envelopes.

Endpoints (under ``/api/v1``): ``GET /syncs``, ``GET /syncs/{id}``, ``GET /syncs/{id}/runs``,
and the triggers the vendor's clients send: ``POST /syncs/trigger`` (body ``syncId`` or
``syncSlug``, JSON or form-encoded) and ``POST /syncs/{id}/trigger``, answering ``{"id": "<run>"}``.
Lists answer ``{"data": [...], "hasMore": bool}`` and page with ``limit`` / ``offset``; run ids
are strings of digits (``"42"``), as documented. :class:`~.quirks.ApiQuirks` can change that.

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

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from simulator_common.http import Response, json_response

from .generator import US_PER_S, parse_us, to_us
from .quirks import ApiQuirks
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
_TRIGGER: Final = re.compile(r"/syncs/trigger/?")
_SYNC_TRIGGER: Final = re.compile(r"/syncs/([^/]+)/trigger/?")
DOCUMENTED: Final = ApiQuirks()


def error_response(status: int, message: str) -> Response:
    """The API's error envelope."""
    return json_response(status, {"message": message})


NOT_FOUND: Final = error_response(404, "Not found")
UNAUTHORIZED: Final = error_response(401, "Unauthorized: invalid or missing API key")
METHOD_NOT_ALLOWED: Final = Response(
    405, b'{"message":"Method not allowed"}', (("Allow", "GET, POST"),)
)


class BadRequest(ValueError):
    """A query parameter could not be understood (HTTP 400)."""


def handle_get(
    world: World, path: str, query: Mapping[str, str], quirks: ApiQuirks = DOCUMENTED
) -> Response:
    """Answer an authorized GET for ``path`` (without its query string)."""
    if not path.startswith(API_PREFIX + "/"):
        return NOT_FOUND
    route = path[len(API_PREFIX) :]
    try:
        if _SYNCS.fullmatch(route):
            return _list_syncs(world, query, _Paging.of(query, DEFAULT_SYNC_LIMIT, path, quirks))
        if match := _SYNC_RUNS.fullmatch(route):
            paging = _Paging.of(query, DEFAULT_RUN_LIMIT, path, quirks)
            return _list_runs(world, match.group(1), query, paging)
    except BadRequest as exc:
        return error_response(400, str(exc))
    if match := _SYNC.fullmatch(route):
        sync = world.sync(match.group(1))
        return NOT_FOUND if sync is None else json_response(200, sync)
    return NOT_FOUND


@dataclass(frozen=True)
class _Paging:
    """One listing's page request as this server honours it, and how it answers."""

    limit: int
    offset: int
    quirks: ApiQuirks
    ignore_offset: bool

    @classmethod
    def of(
        cls, query: Mapping[str, str], default_limit: int, path: str, quirks: ApiQuirks
    ) -> _Paging:
        limit, offset = _paging(query, default_limit)
        ignored = quirks.offset_ignored(path)
        return cls(min(limit, quirks.max_limit), 0 if ignored else offset, quirks, ignored)

    def answer(self, page: Sequence[Mapping[str, Any]], total: int) -> Response:
        """The list envelope: ``data``, and ``hasMore`` unless the quirks leave it out."""
        body: dict[str, Any] = {"data": page}
        if not self.quirks.omit_has_more:
            body["hasMore"] = self.ignore_offset or self.offset + len(page) < total
        return json_response(200, body)


def handle_post(world: World, path: str, body: bytes) -> Response:
    """Answer an authorized POST: a sync trigger starts a run and answers its id."""
    if not path.startswith(API_PREFIX + "/"):
        return NOT_FOUND
    route = path[len(API_PREFIX) :]
    if match := _SYNC_TRIGGER.fullmatch(route):
        sync = world.sync(match.group(1))
    elif _TRIGGER.fullmatch(route):
        fields = _body_fields(body)
        if "syncId" in fields:
            sync = world.sync(str(fields["syncId"]))
        elif "syncSlug" in fields:
            sync = next((s for s in world.syncs if s.get("slug") == fields["syncSlug"]), None)
        else:
            return error_response(400, "syncId or syncSlug is required")
    else:
        return METHOD_NOT_ALLOWED  # the other routes are read-only
    if sync is None:
        return NOT_FOUND
    return json_response(200, {"id": str(world.trigger(sync["id"])["id"])})


def _body_fields(body: bytes) -> dict[str, Any]:
    """A body's fields: a JSON object, or form-encoded pairs (Airflow's HttpHook sends those)."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return dict(parse_qsl(text))


def _list_syncs(world: World, query: Mapping[str, str], paging: _Paging) -> Response:
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
    page, total = world.query_syncs(select, field, paging.offset, paging.limit)
    return paging.answer(page, total)


def _list_runs(world: World, sync_id: str, query: Mapping[str, str], paging: _Paging) -> Response:
    order = _order(query, RUN_ORDERS)
    keep = _time_filter(query, "startedAt", world)
    run_id = _int(query, "runId")

    def select(run: Mapping[str, Any]) -> bool:
        return (run_id is None or run.get("id") == run_id) and keep(run)

    quirks, offset, limit = paging.quirks, paging.offset, paging.limit
    if quirks.reshapes_runs:  # the whole result, reordered or repeated, then one slice of it
        answer = world.query_runs(sync_id, select, order, 0, sys.maxsize)
        if answer is not None:
            rows = quirks.reshape_runs(answer[0])
            answer = rows[offset : offset + limit], len(rows)
    else:
        answer = world.query_runs(sync_id, select, order, offset, limit)
    if answer is None:
        return NOT_FOUND
    page, total = answer
    return paging.answer([quirks.wire_run(world.wire_form(run)) for run in page], total)


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
