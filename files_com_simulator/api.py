"""HTTP-free request handling: routes, list parameters, cursors and Files.com-shaped errors.

Assumptions where the reference is silent (each is the likely behaviour of the real API):

* ``per_page`` defaults to 1,000; a value outside 1..10,000 is a 400, not silently clamped.
* Without ``sort_by`` a list is ordered by ``created_at`` ascending; ties go by ``id``.
* Cursors are opaque keyset positions: records created while a client pages never shift the
  pages it has yet to read. A cursor is valid only with the filters and sort it was issued for
  (anything else is a 400), so a client must resend them with it.
* The next cursor is sent as ``X-Files-Cursor-Next`` and, as the SDKs' older iterators read
  it, as ``X-Files-Cursor``; both headers are absent on the last page.
* Range filters take ISO-8601 timestamps (a naive one means UTC) and only ``created_at``.
* Errors are JSON objects with ``error``, ``http-code``, ``instance``, ``title`` and ``type``
  (the shape Files.com documents for 401s); the types of 403/404/429/5xx are guesses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from census_simulator.timefmt import parse_us, to_us
from simulator_common.http import Response, json_response

from .world import World

API_PREFIX: Final = "/api/rest/v1"
DEFAULT_PER_PAGE: Final = 1_000
MAX_PER_PAGE: Final = 10_000
SORT_FIELDS: Final = ("site_id", "workspace_id", "sync_id", "created_at", "status")
FILTER_FIELDS: Final = (
    "created_at",
    "status",
    "dry_run",
    "workspace_id",
    "src_remote_server_type",
    "dest_remote_server_type",
    "sync_id",
)
RANGE_PARAMS: Final = ("filter_gt", "filter_gteq", "filter_lt", "filter_lteq")
CURSOR_NEXT: Final = "X-Files-Cursor-Next"
CURSOR_PREV: Final = "X-Files-Cursor-Prev"
CURSOR_LEGACY: Final = "X-Files-Cursor"

_LIST: Final = re.compile(r"/sync_runs(?:\.json)?/?")
_ONE: Final = re.compile(r"/sync_runs/([0-9]{1,18})(?:\.json)?/?")
_BRACKET: Final = re.compile(r"([a-z_]+)\[([a-z_]+)\]")

Key = tuple[Any, int]


def error_response(
    status: int, title: str, kind: str, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A Files.com-shaped error: ``{"error", "http-code", "instance", "title", "type"}``."""
    instance = hashlib.blake2b(f"{status}{kind}{message}".encode(), digest_size=16).hexdigest()
    payload = {
        "error": message,
        "http-code": status,
        "instance": f"{instance[:8]}-{instance[8:12]}-{instance[12:16]}-{instance[16:20]}-"
        f"{instance[20:]}",
        "title": title,
        "type": kind,
    }
    return json_response(status, payload, headers)


UNAUTHENTICATED: Final = error_response(
    401,
    "Invalid Credentials",
    "not-authenticated/invalid-credentials",
    "The API key or Session token provided could not be used to validate this request. "
    "Internal Error Code: API1",
)
MISSING_CREDENTIALS: Final = error_response(
    401,
    "Authentication Required",
    "not-authenticated/authentication-required",
    "Authentication required: send an API key in the X-FilesAPI-Key header.",
)
FORBIDDEN: Final = error_response(
    403,
    "Insufficient Permission",
    "not-authorized/insufficient-permission",
    "This API key does not have permission to list sync runs.",
)
NOT_FOUND: Final = error_response(404, "Not Found", "not-found/not-found", "Not Found")
METHOD_NOT_ALLOWED: Final = error_response(
    405, "Method Not Allowed", "bad-request/method-not-allowed", "Only GET is simulated."
)


class BadRequest(ValueError):
    """A parameter could not be understood (HTTP 400)."""


@dataclass(frozen=True)
class ListQuery:
    """A validated list request."""

    per_page: int
    sort_field: str
    descending: bool
    ranges: tuple[tuple[str, int], ...]  # (filter_gt|gteq|lt|lteq, created_us)
    equals: tuple[tuple[str, str], ...]
    cursor: str | None

    @property
    def signature(self) -> str:
        """What a cursor is bound to: the selection and its order, not the page size."""
        text = repr((self.sort_field, self.descending, self.ranges, self.equals))
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def handle_get(world: World, path: str, query: Sequence[tuple[str, str]]) -> Response:
    """Answer an authorized GET for ``path`` (without its query string)."""
    if not path.startswith(API_PREFIX + "/"):
        return NOT_FOUND
    route = path[len(API_PREFIX) :]
    if match := _ONE.fullmatch(route):
        run = world.run(int(match.group(1)))
        return NOT_FOUND if run is None else json_response(200, world.wire_form(run))
    if _LIST.fullmatch(route):
        try:
            return list_runs(world, parse_list_query(query))
        except BadRequest as exc:
            return error_response(400, "Bad Request", "bad-request/invalid-parameter", str(exc))
    return NOT_FOUND


def parse_list_query(query: Sequence[tuple[str, str]]) -> ListQuery:
    """Validate the parameters of ``GET /sync_runs``; raise :class:`BadRequest` on junk."""
    per_page = DEFAULT_PER_PAGE
    sorts: list[tuple[str, str]] = []
    ranges: list[tuple[str, int]] = []
    equals: list[tuple[str, str]] = []
    cursor: str | None = None
    for name, value in query:
        if name == "per_page":
            per_page = _per_page(value)
        elif name == "cursor":
            cursor = value or None
        elif match := _BRACKET.fullmatch(name):
            group, field_name = match.groups()
            if group == "sort_by":
                if field_name not in SORT_FIELDS:
                    raise BadRequest(f"sort_by[{field_name}] is not a valid sort field")
                if value not in ("asc", "desc"):
                    raise BadRequest(f"sort_by[{field_name}] must be asc or desc, not {value!r}")
                sorts.append((field_name, value))
            elif group in RANGE_PARAMS:
                if field_name != "created_at":
                    raise BadRequest(f"{group}[{field_name}]: valid fields are created_at")
                ranges.append((group, _timestamp_us(f"{group}[{field_name}]", value)))
            elif group == "filter":
                if field_name not in FILTER_FIELDS:
                    raise BadRequest(f"filter[{field_name}] is not a valid filter field")
                equals.append((field_name, value))
    if len(sorts) > 1:
        raise BadRequest("sort_by accepts one field")
    field_name, direction = sorts[0] if sorts else ("created_at", "asc")
    return ListQuery(
        per_page=per_page,
        sort_field=field_name,
        descending=direction == "desc",
        ranges=tuple(sorted(ranges)),
        equals=tuple(sorted(equals)),
        cursor=cursor,
    )


def list_runs(world: World, query: ListQuery) -> Response:
    """One page of runs as a bare JSON array, with cursor headers."""
    runs = _selected(world, query)
    key_of = _key_function(query.sort_field)
    if query.sort_field != "created_at":
        runs = sorted(runs, key=key_of)
    keys = [key_of(run) for run in runs]  # ascending
    count = len(runs)
    start, stop = 0, min(count, query.per_page)
    if query.cursor is not None:
        direction, key = _decode_cursor(query.cursor, query.signature)
        if direction == "next":
            after = bisect_right(keys, key) if not query.descending else bisect_left(keys, key)
            start = after if not query.descending else count - after
            stop = min(count, start + query.per_page)
        else:
            before = bisect_left(keys, key) if not query.descending else bisect_right(keys, key)
            stop = before if not query.descending else count - before
            start = max(0, stop - query.per_page)
    ordered = runs if not query.descending else runs[::-1]
    ordered_keys = keys if not query.descending else keys[::-1]
    page = [world.wire_form(run) for run in ordered[start:stop]]
    headers: list[tuple[str, str]] = []
    if stop < count and page:
        token = _encode_cursor("next", ordered_keys[stop - 1], query.signature)
        headers += [(CURSOR_NEXT, token), (CURSOR_LEGACY, token)]
    if start > 0 and page:
        headers.append((CURSOR_PREV, _encode_cursor("prev", ordered_keys[start], query.signature)))
    body = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(200, body, tuple(headers))


def _selected(world: World, query: ListQuery) -> list[dict[str, Any]]:
    low: tuple[int, bool] | None = None
    high: tuple[int, bool] | None = None
    for name, value in query.ranges:
        if name in ("filter_gt", "filter_gteq"):
            bound = (value, name == "filter_gteq")
            if low is None or (bound[0], not bound[1]) > (low[0], not low[1]):
                low = bound
        else:
            bound = (value, name == "filter_lteq")
            if high is None or (bound[0], bound[1]) < (high[0], high[1]):
                high = bound
    runs = world.select(
        None if low is None else low[0],
        low is not None and low[1],
        None if high is None else high[0],
        high is not None and high[1],
    )
    for field_name, wanted in query.equals:
        runs = [run for run in runs if _matches(run.get(field_name), field_name, wanted)]
    return runs


def _matches(value: Any, field_name: str, wanted: str) -> bool:
    if field_name == "created_at":
        return isinstance(value, str) and _instant(value) == _timestamp_us("filter", wanted)
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return value is not None and str(value) == wanted


def _key_function(field_name: str) -> Callable[[Mapping[str, Any]], Key]:
    if field_name == "created_at":
        return lambda run: (parse_us(run["created_at"]), run["id"])
    if field_name == "status":
        return lambda run: (str(run.get("status") or ""), run["id"])
    return lambda run: (_int_key(run.get(field_name)), run["id"])


def _int_key(value: Any) -> int:
    """An integer sort key: the value's integer, or 0 for null and anything not a number."""
    if isinstance(value, bool) or value is None:
        return int(value or 0)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _instant(value: str) -> int | None:
    """A timestamp string as epoch µs, or None when it is not one."""
    try:
        return parse_us(value)
    except ValueError:
        return None


def _encode_cursor(direction: str, key: Key, signature: str) -> str:
    raw = json.dumps({"d": direction, "k": list(key), "q": signature}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(token: str, signature: str) -> tuple[str, Key]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        direction, (value, run_id), issued_for = raw["d"], raw["k"], raw["q"]
    except (ValueError, TypeError, KeyError):
        raise BadRequest("cursor is not valid") from None
    if direction not in ("next", "prev") or not isinstance(run_id, int):
        raise BadRequest("cursor is not valid")
    if issued_for != signature:
        raise BadRequest("cursor was issued for other filters or sort order; resend them")
    return direction, (value, run_id)


def _per_page(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"per_page must be an integer, not {value!r}") from None
    if not 1 <= number <= MAX_PER_PAGE:
        raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE}, not {number}")
    return number


def _timestamp_us(name: str, value: str) -> int:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 timestamp, not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_us(moment)
