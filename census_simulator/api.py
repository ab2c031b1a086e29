"""HTTP-free request handling: routes, query parsing, pagination and response envelopes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .world import World

API_PREFIX: Final = "/api/v1"
DEFAULT_PER_PAGE: Final = 25
MAX_PER_PAGE: Final = 100

_SYNCS: Final = re.compile(r"/syncs/?")
_SYNC: Final = re.compile(r"/syncs/([^/]+)/?")
_SYNC_RUNS: Final = re.compile(r"/syncs/([^/]+)/sync_runs/?")
_SYNC_RUN: Final = re.compile(r"/sync_runs/([^/]+)/?")
_ID: Final = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Response:
    """A complete response: status code, JSON body bytes and extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, payload: Any) -> Response:
    """A response whose body is ``payload`` serialized as JSON."""
    return Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


NOT_FOUND: Final = json_response(404, {"status": 404})
UNAUTHORIZED: Final = json_response(401, {"status": "error", "message": "Unauthorized"})
METHOD_NOT_ALLOWED: Final = Response(
    405,
    json.dumps({"status": "error", "message": "Method Not Allowed"}).encode(),
    (("Allow", "GET"),),
)


class BadRequest(ValueError):
    """A query parameter could not be understood (HTTP 400)."""


@dataclass(frozen=True)
class ListParams:
    """Validated ``page`` / ``per_page`` / ``order`` of a list request."""

    page: int
    per_page: int
    descending: bool


def parse_list_params(query: Mapping[str, str]) -> ListParams:
    """Apply the API's defaults and clamps; raise :class:`BadRequest` for junk values."""
    page = _int_param(query, "page", 1)
    per_page = _int_param(query, "per_page", DEFAULT_PER_PAGE)
    order = query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise BadRequest(f"order must be 'asc' or 'desc', not {order!r}")
    if page < 1:
        page = 1
    if per_page < 1:
        per_page = DEFAULT_PER_PAGE
    return ListParams(page, min(per_page, MAX_PER_PAGE), order == "desc")


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


def list_response(total: int, docs: list[bytes], params: ListParams) -> Response:
    """A paginated success envelope around already-serialized items."""
    body = b"".join(
        (
            b'{"status":"success","data":[',
            b",".join(docs),
            b'],"pagination":',
            json.dumps(pagination(total, params), separators=(",", ":")).encode(),
            b"}",
        )
    )
    return Response(200, body)


def fetch_response(doc: bytes) -> Response:
    """A fetch success envelope around one serialized item."""
    return Response(200, b'{"status":"success","data":' + doc + b"}")


def handle_get(world: World, path: str, query: Mapping[str, str]) -> Response:
    """Answer an authorized GET for ``path`` (without query string)."""
    if not path.startswith(API_PREFIX + "/"):
        return NOT_FOUND
    route = path[len(API_PREFIX) :]
    try:
        if _SYNCS.fullmatch(route):
            params = parse_list_params(query)
            total, docs = world.sync_page_json(params.page, params.per_page, params.descending)
            return list_response(total, docs, params)
        if match := _SYNC_RUNS.fullmatch(route):
            params = parse_list_params(query)
            sync_id = _parse_id(match.group(1))
            page = None
            if sync_id is not None:
                page = world.run_page_json(sync_id, params.page, params.per_page, params.descending)
            return NOT_FOUND if page is None else list_response(page[0], page[1], params)
    except BadRequest as exc:
        return json_response(400, {"status": "error", "message": str(exc)})
    if match := _SYNC.fullmatch(route):
        sync_id = _parse_id(match.group(1))
        doc = None if sync_id is None else world.sync_json(sync_id)
        return NOT_FOUND if doc is None else fetch_response(doc)
    if match := _SYNC_RUN.fullmatch(route):
        run_id = _parse_id(match.group(1))
        doc = None if run_id is None else world.run_json(run_id)
        return NOT_FOUND if doc is None else fetch_response(doc)
    return NOT_FOUND


def _parse_id(text: str) -> int | None:
    return int(text) if _ID.fullmatch(text) else None
