"""The simulated Files.com site: syncs, their runs, a clock, and the ground truth."""

from __future__ import annotations

import copy
import random
import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from census_simulator.timefmt import (
    US_PER_MIN,
    US_PER_MS,
    US_PER_S,
    coerce_timestamp,
    from_us,
    parse_us,
    to_us,
)

from .generator import IN_PROGRESS, TERMINAL_STATUSES, Generator, SyncProfile

DEFAULT_RUN_COUNTS: Final = (0, 1, 2, 57, 400, 1800, 12)
"""Runs per sync of the default world: empty, tiny, medium and long histories."""

DEFAULT_START: Final = datetime(2025, 3, 1, tzinfo=UTC)
"""Where the default world's clock starts; history lies before it."""

FIRST_RUN_ID: Final = 7_000_001
STUCK_AGE_US: Final = 3 * 24 * 60 * US_PER_MIN
"""How old the runs left ``in_progress`` by ``stuck_open`` are at the start."""

_INTERVALS_MIN: Final = (5, 15, 60, 360)

MISSING: Final = object()
"""Pass as a field value to :meth:`World.add_run` or :meth:`World.update_run` to drop the key."""


@dataclass
class AdvanceReport:
    """What :meth:`World.advance` changed."""

    new_run_ids: list[int] = field(default_factory=list)
    finished_run_ids: list[int] = field(default_factory=list)


class World:
    """A deterministic, thread-safe simulated Files.com site.

    ``sync_run_counts`` gives one sync per entry with that many runs (default
    :data:`DEFAULT_RUN_COUNTS`). The clock starts at ``start``; runs lie before it, run ids
    increase with ``created_at``, and syncs on a schedule share ``created_at`` seconds. The
    newest run of a sync is sometimes still ``in_progress``; ``stuck_open`` older runs (about
    three days old, in the longest histories) are ``in_progress`` as well.
    """

    def __init__(
        self,
        seed: int = 0,
        sync_run_counts: Sequence[int] | None = None,
        start: datetime | None = None,
        stuck_open: int = 1,
    ) -> None:
        counts = tuple(DEFAULT_RUN_COUNTS if sync_run_counts is None else sync_run_counts)
        if any(count < 0 for count in counts):
            raise ValueError("sync_run_counts must be non-negative")
        self.seed = seed
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._gen = Generator(self._rng)
        self._now_us = to_us(DEFAULT_START if start is None else start)
        self._syncs: dict[int, SyncProfile] = {}
        self._runs: dict[int, dict[str, Any]] = {}
        self._keys: list[tuple[int, int]] = []  # (created_us, id), ascending
        self._open: set[int] = set()
        self._next_run_id = FIRST_RUN_ID
        self._build(counts, stuck_open)

    # ------------------------------------------------------------ building
    def _build(self, counts: tuple[int, ...], stuck_open: int) -> None:
        rng, gen, now = self._rng, self._gen, self._now_us
        planned: list[tuple[int, int, bool]] = []  # (created_us, sync_id, newest)
        for index, count in enumerate(counts):
            profile = gen.new_profile(index + 1)
            self._syncs[profile.sync_id] = profile
            step = rng.choice(_INTERVALS_MIN) * US_PER_MIN
            slot = now - now % step
            for k in range(count):
                jitter = rng.randint(0, 3 * US_PER_S)  # scheduled: the first seconds of a slot
                created = gen.fuzz_precision(min(slot + jitter, now - US_PER_MS), 0)
                planned.append((created, profile.sync_id, k == 0))
                slot -= step * rng.choice((1, 1, 1, 2))  # now and then a slot without a run
        planned.sort()
        stuck = self._stuck_positions(planned, counts, stuck_open)
        for position, (created, sync_id, newest) in enumerate(planned):
            status = None
            if position in stuck or (newest and rng.random() < 0.35):
                status = IN_PROGRESS
            run = gen.make_run(self._syncs[sync_id], self._take_id(), created, now, status)
            self._store(run)

    def _stuck_positions(
        self, planned: list[tuple[int, int, bool]], counts: tuple[int, ...], stuck_open: int
    ) -> set[int]:
        """Positions of runs about STUCK_AGE old in the longest histories, one per sync."""
        longest = sorted(range(len(counts)), key=lambda i: -counts[i])[:stuck_open]
        target = self._now_us - STUCK_AGE_US
        chosen: set[int] = set()
        for index in longest:
            sync_id = index + 1
            positions = [
                p for p, (created, sid, _) in enumerate(planned) if sid == sync_id and counts[index]
            ]
            if len(positions) > 2:
                chosen.add(min(positions[:-1], key=lambda p: abs(planned[p][0] - target)))
        return chosen

    def _take_id(self) -> int:
        run_id = self._next_run_id
        self._next_run_id += 1
        return run_id

    def _store(self, run: dict[str, Any]) -> None:
        run_id = run["id"]
        self._runs[run_id] = run
        insort(self._keys, (parse_us(run["created_at"]), run_id))
        self._track_open(run)

    def _track_open(self, run: Mapping[str, Any]) -> None:
        if run.get("status") in TERMINAL_STATUSES:
            self._open.discard(run["id"])
        else:
            self._open.add(run["id"])

    # -------------------------------------------------------------- reading
    @property
    def now(self) -> datetime:
        """The simulated current time (UTC)."""
        with self._lock:
            return from_us(self._now_us)

    @property
    def sync_ids(self) -> list[int]:
        """Ids of the site's syncs, ascending."""
        with self._lock:
            return sorted(self._syncs)

    @property
    def run_count(self) -> int:
        """How many runs the site holds."""
        with self._lock:
            return len(self._runs)

    def run(self, run_id: int) -> dict[str, Any] | None:
        """A copy of one run, or None."""
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else copy.deepcopy(run)

    def open_run_ids(self) -> list[int]:
        """Ids of runs that are not in a documented terminal status, ascending."""
        with self._lock:
            return sorted(self._open)

    def ground_truth_runs(self) -> list[dict[str, Any]]:
        """Every run a complete loader must hold, as copies, by id."""
        with self._lock:
            return [copy.deepcopy(self._runs[run_id]) for run_id in sorted(self._runs)]

    def runs_created(
        self, after_us: int | None = None, before_us: int | None = None
    ) -> list[dict[str, Any]]:
        """Runs with ``after_us <= created < before_us`` (either bound optional), as copies."""
        with self._lock:
            low = 0 if after_us is None else bisect_left(self._keys, (after_us, -1))
            high = (
                len(self._keys) if before_us is None else bisect_left(self._keys, (before_us, -1))
            )
            return [copy.deepcopy(self._runs[run_id]) for _, run_id in self._keys[low:high]]

    def select(
        self, low_us: int | None, low_inclusive: bool, high_us: int | None, high_inclusive: bool
    ) -> list[dict[str, Any]]:
        """Runs (shared, not copies: the server serializes them) in (created_at, id) order."""
        with self._lock:
            keys = self._keys
            if low_us is None:
                start = 0
            elif low_inclusive:
                start = bisect_left(keys, (low_us, -1))
            else:
                start = bisect_right(keys, (low_us, 1 << 62))
            if high_us is None:
                stop = len(keys)
            elif high_inclusive:
                stop = bisect_right(keys, (high_us, 1 << 62))
            else:
                stop = bisect_left(keys, (high_us, -1))
            return [self._runs[run_id] for _, run_id in keys[start:stop]]

    # ------------------------------------------------------------ mutating
    def add_run(self, sync_id: int, **fields: Any) -> dict[str, Any]:
        """Add a run to a sync; fields not given are generated (``created_at`` = now).

        ``status`` shapes the generated values; datetimes become API timestamps;
        :data:`MISSING` drops a key. Returns a copy of the stored run.
        """
        with self._lock:
            profile = self._syncs[sync_id]
            fields = {key: coerce_timestamp(value) for key, value in fields.items()}
            created = fields.get("created_at")
            created_us = parse_us(created) if isinstance(created, str) else self._now_us
            status = fields.get("status")
            run_id = int(fields.pop("id")) if "id" in fields else self._take_id()
            if run_id in self._runs:
                raise ValueError(f"run id {run_id} already exists")
            self._next_run_id = max(self._next_run_id, run_id + 1)
            run = self._gen.make_run(
                profile,
                run_id,
                created_us,
                self._now_us,
                status if isinstance(status, str) else None,
            )
            _merge(run, fields)
            self._store(run)
            return copy.deepcopy(run)

    def update_run(self, run_id: int, **fields: Any) -> dict[str, Any]:
        """Merge fields into a run (:data:`MISSING` removes a key); returns a copy."""
        with self._lock:
            if "id" in fields:
                raise ValueError("a run's id cannot change")
            old = self._runs[run_id]
            run = copy.deepcopy(old)
            _merge(run, {key: coerce_timestamp(value) for key, value in fields.items()})
            self._keys.remove((parse_us(old["created_at"]), run_id))
            self._store(run)
            return copy.deepcopy(run)

    def delete_run(self, run_id: int) -> None:
        """Remove a run from the site (the API then answers 404 for it)."""
        with self._lock:
            run = self._runs.pop(run_id)
            self._keys.remove((parse_us(run["created_at"]), run_id))
            self._open.discard(run_id)

    def finish_run(self, run_id: int) -> dict[str, Any]:
        """Finish one open run now (the clock moves on by 1 ms); returns a copy."""
        with self._lock:
            run = self._runs[run_id]
            if run["status"] in TERMINAL_STATUSES:
                raise ValueError(f"run {run_id} is already {run['status']}")
            self._now_us += US_PER_MS
            profile = self._syncs[run["sync_id"]]
            finished = self._gen.finish_run(profile, run, self._now_us - US_PER_MS, self._now_us)
            self._runs[run_id] = finished
            self._track_open(finished)
            return copy.deepcopy(finished)

    def insert_run(self, sync_id: int) -> dict[str, Any]:
        """A new run created now (the clock moves on by 1 ms first); returns a copy."""
        with self._lock:
            self._now_us += US_PER_MS
            if self._rng.random() < 0.3:
                return self.add_run(sync_id, status=IN_PROGRESS)
            return self.add_run(sync_id)

    def advance(
        self,
        seconds: float = 3600,
        new_runs_per_sync: int | Mapping[int, int] = 1,
        finish_open: bool = True,
        keep_open: Iterable[int] = (),
    ) -> AdvanceReport:
        """Move the clock on by ``seconds`` and let the site evolve.

        First every open run (except ``keep_open``) finishes at a time in (old now, new now],
        if ``finish_open``; then each sync gets ``new_runs_per_sync`` runs (an int, or a
        mapping sync id -> count) created in (old now, new now], its newest possibly open.
        """
        with self._lock:
            step = int(seconds * US_PER_S)
            step -= step % US_PER_MS
            if step <= 0:
                raise ValueError("seconds must be at least 0.001")
            report = AdvanceReport()
            old, new = self._now_us, self._now_us + step
            rng, gen = self._rng, self._gen
            kept = set(keep_open)
            if finish_open:
                for run_id in sorted(self._open - kept):
                    run = self._runs[run_id]
                    profile = self._syncs[run["sync_id"]]
                    self._runs[run_id] = gen.finish_run(profile, run, old, new)
                    self._track_open(self._runs[run_id])
                    report.finished_run_ids.append(run_id)
            planned: list[tuple[int, int, bool]] = []
            for sync_id in sorted(self._syncs):
                count = (
                    int(new_runs_per_sync.get(sync_id, 0))
                    if isinstance(new_runs_per_sync, Mapping)
                    else int(new_runs_per_sync)
                )
                first = old + US_PER_MS
                times = sorted(
                    rng.randint(first // US_PER_MS, new // US_PER_MS) * US_PER_MS
                    for _ in range(count)
                )
                planned.extend(
                    (gen.fuzz_precision(t, first), sync_id, i == count - 1)
                    for i, t in enumerate(times)
                )
            planned.sort()
            for created, sync_id, newest in planned:
                status = IN_PROGRESS if newest and rng.random() < 0.35 else None
                run = gen.make_run(self._syncs[sync_id], self._take_id(), created, new, status)
                self._store(run)
                report.new_run_ids.append(run["id"])
            self._now_us = new
            return report


def _merge(run: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if value is MISSING:
            run.pop(key, None)
        else:
            run[key] = value
