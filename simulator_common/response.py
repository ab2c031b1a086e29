"""A complete simulated HTTP response, shared by the handlers and the fault plans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Response", "json_response"]


@dataclass(frozen=True)
class Response:
    """A complete response: status code, body bytes and extra headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A response whose body is ``payload`` as JSON (UTF-8, not ASCII-escaped)."""
    return Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers)
