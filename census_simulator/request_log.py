"""The request log entry of the Census simulator (shared by the server and the fault plans)."""

from __future__ import annotations

from simulator_common.log import LoggedRequest

__all__ = ["RequestLogEntry"]


class RequestLogEntry(LoggedRequest[dict[str, str]]):
    """One request as the simulator saw it; never holds the Authorization header or token.

    ``status`` is what was sent: 0 while the request is still being answered and for a
    ``reset``. ``authorized`` is whether the token may use this path (v1: the workspace
    token, v2: the personal access token). ``fault`` names the injected fault kind (None when
    none). ``throttled`` marks a 429 of the server-side rate limit (``rate_limit``).
    """

    throttled: bool = False
