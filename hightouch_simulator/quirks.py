"""Switches that make the simulated API answer like an older or misbehaving Hightouch API.

Each switch breaks one assumption a client may make (string run ids, ``hasMore``, honoured
``offset`` and ``limit``, ``orderBy``, distinct rows), so tests can show what a client does then.
The defaults are the documented API.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ApiQuirks:
    """How the simulated API deviates from the documented one (the defaults: not at all).

    ``numeric_run_ids``: run ids as JSON numbers (``42``), not the documented strings (``"42"``).
    ``omit_has_more``: lists answer ``{"data": [...]}`` only, as an older official OpenAPI has it.
    ``ignore_offset``: listings whose path this regex matches serve ``offset`` 0 whatever was
    asked, and always say ``hasMore: true`` (a server that never moves on).
    ``max_limit``: ``limit`` is capped here silently (the documented cap is 100).
    ``unsorted_runs``: run listings ignore ``orderBy`` and serve a stable, scrambled order.
    ``duplicate_runs``: in run listings every run whose id is divisible by 7 is listed twice in a
    row (a server-side join gone wrong); offsets and ``hasMore`` count the duplicates.
    """

    numeric_run_ids: bool = False
    omit_has_more: bool = False
    ignore_offset: str | None = None
    max_limit: int = 100
    unsorted_runs: bool = False
    duplicate_runs: bool = False

    def __post_init__(self) -> None:
        if self.max_limit < 1:
            raise ValueError("max_limit must be at least 1")

    @property
    def reshapes_runs(self) -> bool:
        """Whether run listings must be built from the whole result, not one slice."""
        return self.unsorted_runs or self.duplicate_runs

    def offset_ignored(self, path: str) -> bool:
        """Whether a listing at ``path`` ignores ``offset``."""
        return self.ignore_offset is not None and re.search(self.ignore_offset, path) is not None

    def reshape_runs(self, runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """A run listing's whole result as this server would order and repeat it."""
        rows = list(runs)
        if self.unsorted_runs:
            rows.sort(key=lambda run: zlib.crc32(str(run["id"]).encode()))
        if self.duplicate_runs:
            rows = [copy for run in rows for copy in ([run] * (2 if run["id"] % 7 == 0 else 1))]
        return rows

    def wire_run(self, run: Mapping[str, Any]) -> Mapping[str, Any]:
        """A run with its id as this server sends it."""
        if self.numeric_run_ids or not isinstance(run.get("id"), int):
            return run
        return {**run, "id": str(run["id"])}
