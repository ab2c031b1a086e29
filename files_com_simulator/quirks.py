"""Switches that make ``GET /sync_runs`` break a promise a client relies on.

Each switch models one way the real API could differ from what the reference and the SDK show;
tests turn them on to prove the source ends exact or with one clear error. All off: the
documented behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Quirks:
    """How the sync-runs listing misbehaves."""

    reverse_pages: bool = False
    """Each page lists its runs in reverse order (the pages themselves stay in order)."""
    cap_per_page: int | None = None
    """Serve at most this many runs a page, whatever ``per_page`` asks (the cursor agrees)."""
    cursor_back_after: int | None = None
    """From this page (0-based, counted in pages of ``per_page``) on, the next cursor is the one
    the first page sent: pages A, B, then A again."""
    ignore_cursor: bool = False
    """Every page serves the first page's runs, under a next cursor as if it had moved on."""
    repeat_first_run: bool = False
    """Each page lists its first run a second time, at its end."""
    fail_cursor_pages: bool = False
    """A request that carries a cursor (page 2 on) answers 500."""
