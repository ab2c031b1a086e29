"""Progress of a backfill loaded in batches of syncs, kept in resource state with the data."""

from collections.abc import MutableMapping, Sequence
from typing import Any

from syncruns_common.window import Window

_KEY = "backfills"


def _window_key(window: Window) -> str:
    start = window.start.isoformat() if window.start else "-"
    end = window.end.isoformat() if window.end else "-"
    return f"{start}..{end}"


class BackfillProgress:
    """Which syncs of one window have landed. Committed with each batch's data, so a killed
    backfill resumes with the syncs not done yet; cleared once every sync is done."""

    def __init__(self, resource_state: MutableMapping[str, Any], window: Window) -> None:
        self._all = resource_state.setdefault(_KEY, {})
        self._key = _window_key(window)
        self._done: list[str] = self._all.setdefault(self._key, {"done": []})["done"]

    def pending(self, sync_ids: Sequence[str]) -> list[str]:
        """The syncs whose window runs have not landed yet, in order."""
        done = set(self._done)
        return [sync_id for sync_id in sync_ids if sync_id not in done]

    def mark_done(self, sync_id: str) -> None:
        """Record a sync whose window was read to the end (lands with this load's data)."""
        self._done.append(sync_id)

    def finish(self) -> None:
        """Forget this window: a later backfill of it starts afresh."""
        self._all.pop(self._key, None)
