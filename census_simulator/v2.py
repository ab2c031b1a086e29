"""API v2 documents: id styles, path ids, and v1 syncs/runs rendered as v2.

Choices of ours where the public docs are silent: a v2 sync and a v2 run are the v1 document
with ``id`` (and a run's ``sync_id``) rendered in the simulator's id style and ``group_id``
(the sync's group) appended as the last key. Path ids are accepted only in that same style.

:class:`V2Variant` switches the unpublished v2 details to other plausible values (paths moved,
``group_id`` required on every request), so tests can prove the source ends exact or with one
clear line whichever Census ships; :func:`v1_retired` is v1's answer once it is retired.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from simulator_common.response import Response, json_response

V2_ID_STYLES: Final = ("string", "integer", "opaque")
"""``string``: ids as decimal strings ("100123"); ``integer``: ids as in v1;
``opaque``: ``"sync_<n>"`` and ``"run_<n>"``."""

DEFAULT_V2_ID_STYLE: Final = "string"

_DECIMAL: Final = re.compile(r"[0-9]{1,18}")
_OPAQUE_SYNC: Final = re.compile(r"sync_([0-9]{1,18})")
_OPAQUE_RUN: Final = re.compile(r"run_([0-9]{1,18})")


def check_id_style(style: str) -> str:
    """Return ``style`` if it is one of :data:`V2_ID_STYLES`, else raise ValueError."""
    if style not in V2_ID_STYLES:
        raise ValueError(f"v2_id_style must be one of {', '.join(V2_ID_STYLES)}, not {style!r}")
    return style


def v2_sync_id(sync_id: int, style: str) -> int | str:
    """A sync id as v2 renders it in ``style``."""
    return _render(sync_id, style, "sync_")


def v2_run_id(run_id: int, style: str) -> int | str:
    """A run id as v2 renders it in ``style``."""
    return _render(run_id, style, "run_")


def parse_v2_sync_id(text: str, style: str) -> int | None:
    """The numeric sync id of a v2 path segment in ``style``, or None if it is not one."""
    return _parse(text, style, _OPAQUE_SYNC)


def parse_v2_run_id(text: str, style: str) -> int | None:
    """The numeric run id of a v2 path segment in ``style``, or None if it is not one."""
    return _parse(text, style, _OPAQUE_RUN)


def as_v2(doc: Mapping[str, Any], style: str, group: str) -> dict[str, Any]:
    """A v1 sync or run dict (a run has ``sync_id``) rendered as v2 in group ``group``."""
    rendered = dict(doc)
    if "sync_id" in doc:
        rendered["id"] = v2_run_id(doc["id"], style)
        rendered["sync_id"] = v2_sync_id(doc["sync_id"], style)
    else:
        rendered["id"] = v2_sync_id(doc["id"], style)
    rendered["group_id"] = group
    return rendered


def _render(number: int, style: str, prefix: str) -> int | str:
    check_id_style(style)
    if style == "integer":
        return number
    if style == "string":
        return str(number)
    return f"{prefix}{number}"


def _parse(text: str, style: str, opaque: re.Pattern[str]) -> int | None:
    check_id_style(style)
    if style == "opaque":
        match = opaque.fullmatch(text)
        return None if match is None else int(match.group(1))
    return int(text) if _DECIMAL.fullmatch(text) else None


MOVED_V2_PATHS: Final[Mapping[str, str]] = {
    "syncs": "/activation_syncs",
    "sync_runs": "/activation_syncs/{sync_id}/runs",
    "sync_run": "/activation_sync_runs/{run_id}",
    "records": "/activation_sync_runs/{run_id}/records",
}
"""A plausible move: the v2 reference section is called "Activation Syncs"."""

GROUP_ID_MISSING: Final = json_response(
    400, {"status": "error", "message": "param is missing or the value is empty: group_id"}
)
"""Rails' answer to a missing required parameter, as v2 would give it for ``group_id``."""


@dataclass(frozen=True)
class V2Variant:
    """Unpublished v2 details, switched away from the defaults this simulator assumes.

    ``paths``: endpoint name (``syncs``, ``sync_runs``, ``sync_run``, ``records``) -> path
    template under ``/api/v2``; the ones not named keep v1's path, the old paths answer 404.
    ``requires_group_id``: every v2 request without ``group_id`` answers 400
    (:data:`GROUP_ID_MISSING`), and one whose sync is in another group answers 404.
    """

    paths: Mapping[str, str] | None = None
    requires_group_id: bool = False


def v1_retired(status: int = 410) -> Response:
    """What ``/api/v1`` answers once v1 is retired: ``status`` (410, 404, 401...) and a body
    saying so, with a ``Sunset`` header (RFC 8594) on a 410."""
    body = {
        "status": "error",
        "message": "Census API v1 was retired on 2027-01-15. "
        "Use /api/v2 with a personal access token.",
    }
    sunset = (("Sunset", "Fri, 15 Jan 2027 00:00:00 GMT"),) if status == 410 else ()
    return json_response(status, body, sunset)


def foreign_token(host: str) -> Response:
    """The 401 for a personal access token that belongs to another region's host."""
    message = f"This personal access token belongs to {host}; it is not valid on this host"
    return json_response(401, {"status": "error", "message": message})
