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
  (the shape Files.com documents for 401s). Their types end in a name the official SDK maps to
  its error class (``bad-request/invalid-cursor`` -> ``InvalidCursorError``); the 403 and 5xx
  types are guesses.
* ``X-Files-Workspace-Id`` (as the SDK sends it) limits a request to that Workspace's runs.
* A site locked to a region answers 403 ``not-authenticated/lockout-region-mismatch`` on any
  other host, naming its host in ``data.host`` and ``X-Files-Host`` (see :func:`region_lockout`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from simulator_common.http import Response, json_response
from simulator_common.timefmt import parse_us, to_us

from .quirks import Quirks
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
WORKSPACE_HEADER: Final = "X-Files-Workspace-Id"
REGION_HOST_HEADER: Final = "X-Files-Host"
REGION_MISMATCH: Final = "not-authenticated/lockout-region-mismatch"

_LIST: Final = re.compile(r"/sync_runs(?:\.json)?/?")
_ONE: Final = re.compile(r"/sync_runs/([0-9]{1,18})(?:\.json)?/?")
_BRACKET: Final = re.compile(r"([a-z_]+)\[([a-z_]+)\]")

Key = tuple[Any, int]


def error_response(
    status: int,
    title: str,
    kind: str,
    message: str,
    headers: tuple[tuple[str, str], ...] = (),
    data: Mapping[str, Any] | None = None,
) -> Response:
    """A Files.com-shaped error: ``{"error", "http-code", "instance", "title", "type"}``
    (and ``data`` when given)."""
    instance = hashlib.blake2b(f"{status}{kind}{message}".encode(), digest_size=16).hexdigest()
    payload: dict[str, Any] = {
        "error": message,
        "http-code": status,
        "instance": f"{instance[:8]}-{instance[8:12]}-{instance[12:16]}-{instance[16:20]}-"
        f"{instance[20:]}",
        "title": title,
        "type": kind,
    }
    if data is not None:
        payload["data"] = dict(data)
    return json_response(status, payload, headers)


def region_lockout(host: str) -> Response:
    """The 403 a region-locked site answers on a host other than ``host`` (``name[:port]``)."""
    return error_response(
        403,
        "Lockout Region Mismatch",
        REGION_MISMATCH,
        f"Your account must connect through {host}. Please use that URL to connect.",
        ((REGION_HOST_HEADER, host),),
        {"host": host},
    )


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
    """A parameter could not be understood (HTTP 400); ``kind`` is the error type."""

    def __init__(self, message: str, kind: str = "bad-request/request-params-invalid") -> None:
        super().__init__(message)
        self.kind = kind


INVALID_CURSOR: Final = "bad-request/invalid-cursor"


@dataclass(frozen=True)
class ListQuery:
    """A validated list request."""

    per_page: int
    sort_field: str
    descending: bool
    ranges: tuple[tuple[str, int], ...]  # (filter_gt|gteq|lt|lteq, created_us)
    equals: tuple[tuple[str, str], ...]
    cursor: str | None
    workspace: int | None = None

    @property
    def signature(self) -> str:
        """What a cursor is bound to: the selection and its order, not the page size."""
        selection: tuple[Any, ...] = (self.sort_field, self.descending, self.ranges, self.equals)
        if self.workspace is not None:  # without one, the tokens stay as they always were
            selection += (self.workspace,)
        text = repr(selection)
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def handle_get(
    world: World,
    path: str,
    query: Sequence[tuple[str, str]],
    workspace: str | None = None,
    quirks: Quirks | None = None,
) -> Response:
    """Answer an authorized GET for ``path`` (without its query string).

    ``workspace`` is the ``X-Files-Workspace-Id`` header as sent (None: not sent).
    """
    if not path.startswith(API_PREFIX + "/"):
        return NOT_FOUND
    route = path[len(API_PREFIX) :]
    try:
        workspace_id = _workspace(workspace)
        if match := _ONE.fullmatch(route):
            run = world.run(int(match.group(1)))
            if run is None or not _in_workspace(run, workspace_id):
                return NOT_FOUND
            return json_response(200, world.wire_form(run))
        if _LIST.fullmatch(route):
            parsed = replace(parse_list_query(query), workspace=workspace_id)
            return list_runs(world, parsed, quirks or Quirks())
    except BadRequest as exc:
        return error_response(400, "Bad Request", exc.kind, str(exc))
    return NOT_FOUND


def _workspace(header: str | None) -> int | None:
    if header is None:
        return None
    if not header.strip().isdigit():
        raise BadRequest(
            f"{WORKSPACE_HEADER} must be a Workspace ID, not {header!r}",
            "bad-request/invalid-workspace-id-header",
        )
    return int(header)


def _in_workspace(run: Mapping[str, Any], workspace: int | None) -> bool:
    return workspace is None or run.get("workspace_id") == workspace


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
                    raise BadRequest(
                        f"sort_by[{field_name}] is not a valid sort field",
                        "bad-request/invalid-sort-field",
                    )
                if value not in ("asc", "desc"):
                    raise BadRequest(f"sort_by[{field_name}] must be asc or desc, not {value!r}")
                sorts.append((field_name, value))
            elif group in RANGE_PARAMS:
                if field_name != "created_at":
                    raise BadRequest(
                        f"{group}[{field_name}]: valid fields are created_at",
                        "bad-request/invalid-filter-field",
                    )
                ranges.append((group, _timestamp_us(f"{group}[{field_name}]", value)))
            elif group == "filter":
                if field_name not in FILTER_FIELDS:
                    raise BadRequest(
                        f"filter[{field_name}] is not a valid filter field",
                        "bad-request/invalid-filter-field",
                    )
                equals.append((field_name, value))
    if len(sorts) > 1:
        raise BadRequest(
            "sort_by accepts one field", "bad-request/multiple-sort-params-not-allowed"
        )
    field_name, direction = sorts[0] if sorts else ("created_at", "asc")
    return ListQuery(
        per_page=per_page,
        sort_field=field_name,
        descending=direction == "desc",
        ranges=tuple(sorted(ranges)),
        equals=tuple(sorted(equals)),
        cursor=cursor,
    )


def list_runs(world: World, query: ListQuery, quirks: Quirks | None = None) -> Response:
    """One page of runs as a bare JSON array, with cursor headers (bent by ``quirks``)."""
    quirks = quirks or Quirks()
    if query.cursor is not None and quirks.fail_cursor_pages:
        return error_response(500, "Internal Server Error", "processing-failure/bug", "bug")
    runs = [run for run in _selected(world, query) if _in_workspace(run, query.workspace)]
    key_of = _key_function(query.sort_field)
    if query.sort_field != "created_at":
        runs = sorted(runs, key=key_of)
    keys = [key_of(run) for run in runs]  # ascending
    count = len(runs)
    size = min(query.per_page, quirks.cap_per_page or query.per_page)
    start, stop = 0, min(count, size)
    if query.cursor is not None:
        direction, key = _decode_cursor(query.cursor, query.signature)
        if direction == "next":
            after = bisect_right(keys, key) if not query.descending else bisect_left(keys, key)
            start = after if not query.descending else count - after
            stop = min(count, start + size)
        else:
            before = bisect_left(keys, key) if not query.descending else bisect_right(keys, key)
            stop = before if not query.descending else count - before
            start = max(0, stop - size)
    ordered = runs if not query.descending else runs[::-1]
    ordered_keys = keys if not query.descending else keys[::-1]
    served = ordered[: min(count, size)] if quirks.ignore_cursor else ordered[start:stop]
    page = [world.wire_form(run) for run in served]
    headers: list[tuple[str, str]] = []
    if stop < count and page:
        last = stop - 1
        if quirks.cursor_back_after is not None and start // size >= quirks.cursor_back_after:
            last = min(count, size) - 1  # the first page's next cursor
        token = _encode_cursor("next", ordered_keys[last], query.signature)
        headers += [(CURSOR_NEXT, token), (CURSOR_LEGACY, token)]
    if start > 0 and page:
        headers.append((CURSOR_PREV, _encode_cursor("prev", ordered_keys[start], query.signature)))
    if quirks.reverse_pages:
        page.reverse()
    if quirks.repeat_first_run and page:
        page.append(page[0])
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
        raise BadRequest("cursor is not valid", INVALID_CURSOR) from None
    if direction not in ("next", "prev") or not isinstance(run_id, int):
        raise BadRequest("cursor is not valid", INVALID_CURSOR)
    if issued_for != signature:
        raise BadRequest(
            "cursor was issued for other filters or sort order; resend them", INVALID_CURSOR
        )
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
        raise BadRequest(
            f"{name} must be an ISO-8601 timestamp, not {value!r}", "bad-request/datetime-parse"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_us(moment)
