"""API v2 documents: id styles, path ids, and v1 syncs/runs rendered as v2.

Choices of ours where the public docs are silent: a v2 sync and a v2 run are the v1 document
with ``id`` (and a run's ``sync_id``) rendered in the simulator's id style and ``group_id``
(the sync's group) appended as the last key. Path ids are accepted only in that same style.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

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
