"""Switches that make the simulated list endpoints break a promise a client may rely on.

Each switch models one way a real API could differ from its docs; tests turn them on to
prove the source ends exact or with one clear error. All off: the documented behaviour.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from simulator_common.http import Response, json_response


@dataclass
class Quirks:
    """How `GET /syncs` and `GET /syncs/{id}/sync_runs` misbehave (runs listings unless said)."""

    ignore_order: bool = False
    """Runs come oldest first whatever ``order`` asks."""
    ignore_page: bool = False
    """Every page serves page 1's items, under the pagination block of the page asked for
    (``/syncs`` too)."""
    cap_per_page: int | None = None
    """Serve at most this many items a page, whatever ``per_page`` asks (pagination agrees)."""
    total_records_off_by: int = 0
    """Added to ``pagination.total_records`` (paging itself stays right)."""
    repeat_first_run: bool = False
    """Each page lists its first run a second time, at its end."""
    drop_pagination: bool = False
    """List answers without the ``pagination`` block."""
    error_bodies: int = 0
    """The next this many list requests answer 200 with ``{"status": "error"}``."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def error_body(self) -> Response | None:
        """The 200 error answer while `error_bodies` lasts (counts it down), else None."""
        with self._lock:
            if self.error_bodies <= 0:
                return None
            self.error_bodies -= 1
        return json_response(200, {"status": "error", "message": "internal error, try again"})
