"""The simulated Hightouch workspace: syncs, their runs, a clock, and the ground truth."""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from .generator import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    US_PER_MS,
    US_PER_S,
    Generator,
    format_us,
    from_us,
    parse_us,
    to_us,
)

DEFAULT_RUN_COUNTS: Final[tuple[int, ...]] = (0, 1, 99, 100, 101, 450, 7, 30)
"""Runs per sync of the default world: the 100-per-page edges and one longer history."""

DEFAULT_START: Final = datetime(2024, 1, 1, tzinfo=UTC)
FIRST_SYNC_ID: Final = 1001
FIRST_RUN_ID: Final = 500_000
WORKSPACE_ID: Final = "4242"
_MINUTE_US: Final = 60 * US_PER_S
_INTERVALS_MIN: Final = (15, 30, 60, 120)


@dataclass
class AdvanceReport:
    """What one :meth:`World.advance` call changed."""

    new_run_ids: list[int] = field(default_factory=list)
    finished_run_ids: list[int] = field(default_factory=list)
    added_sync_ids: list[str] = field(default_factory=list)
    deleted_sync_ids: list[str] = field(default_factory=list)


def is_open(run: Mapping[str, Any]) -> bool:
    """Whether a run may still change (any status that is not terminal)."""
    return run.get("status") not in TERMINAL_STATUSES


class World:
    """A deterministic, thread-safe simulated Hightouch workspace.

    ``sync_run_counts`` gives one sync per entry with that many runs (default
    :data:`DEFAULT_RUN_COUNTS`); history ends shortly before :attr:`now`, about half of the syncs
    end with one or two open runs. Sync ids are digit strings (the docs type them as strings),
    run ids are numbers increasing with creation, across syncs.
    """

    def __init__(
        self,
        seed: int = 0,
        sync_run_counts: Sequence[int] | None = None,
        start: datetime | None = None,
    ) -> None:
        counts = tuple(DEFAULT_RUN_COUNTS if sync_run_counts is None else sync_run_counts)
        if any(count < 0 for count in counts):
            raise ValueError("sync_run_counts must be non-negative")
        self.seed = seed
        self.start = DEFAULT_START if start is None else start
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._gen = Generator(self._rng)
        self._syncs: dict[str, dict[str, Any]] = {}
        self._deleted: dict[str, dict[str, Any]] = {}
        self._runs: dict[int, dict[str, Any]] = {}
        self._run_sync: dict[int, str] = {}
        self._sync_runs: dict[str, list[int]] = {}
        self._next_sync_id = FIRST_SYNC_ID
        self._next_run_id = FIRST_RUN_ID
        self._now_us = to_us(self.start)
        self._build(counts)

    # ------------------------------------------------------------ building
    def _build(self, counts: tuple[int, ...]) -> None:
        rng = self._rng
        plans = [self._history_plan(count) for count in counts]
        span = max((plan[-1][2] for plan in plans if plan), default=0)
        end_us = to_us(self.start) + span + 24 * 60 * _MINUTE_US
        end_us -= end_us % US_PER_MS
        self._now_us = end_us + rng.randint(2, 10) * _MINUTE_US
        events: list[tuple[int, int, str, tuple[int, int, int], bool]] = []
        for index, plan in enumerate(plans):
            shift = end_us - (plan[-1][2] if plan else 0) - rng.randint(0, 30) * _MINUTE_US
            created = (plan[0][0] + shift if plan else end_us) - rng.randint(5, 60) * _MINUTE_US
            sync_id = self._new_sync(created)
            open_count = self._draw_open_count(len(plan))
            for position, (c, s, f) in enumerate(plan):
                last = position >= len(plan) - open_count
                events.append((c + shift, index, sync_id, (c + shift, s + shift, f + shift), last))
        events.sort(key=lambda event: (event[0], event[1]))  # run ids increase with creation
        for _, _, sync_id, times, still_open in events:
            if still_open:
                self._store(sync_id, self._open_tail_run(sync_id, times))
            else:
                self._store(sync_id, self._gen.finished_run(self._take_run_id(), *times))
        for sync_id in self._syncs:
            self._refresh_sync(sync_id)

    def _history_plan(self, count: int) -> list[tuple[int, int, int]]:
        """(created, started, finished) offsets of a serial history: a run starts after the last."""
        rng = self._rng
        interval = rng.choice(_INTERVALS_MIN) * _MINUTE_US
        plan: list[tuple[int, int, int]] = []
        free_at = 0
        for index in range(count):
            created = index * interval + rng.randint(0, 59_999) * US_PER_MS
            started = max(created + rng.randint(0, 3_000) * US_PER_MS, free_at + US_PER_MS)
            duration = rng.randint(5, 600) * US_PER_S
            if rng.random() < 0.05:  # a slow run: the next one waits in the queue
                duration = interval + rng.randint(1, 20) * _MINUTE_US
            plan.append((created, started, started + duration))
            free_at = started + duration
        return plan

    def _draw_open_count(self, runs: int) -> int:
        draw = self._rng.random()
        if runs == 0 or draw < 0.5:
            return 0
        return 1 if draw < 0.85 or runs == 1 else 2

    def _open_tail_run(self, sync_id: str, times: tuple[int, int, int]) -> dict[str, Any]:
        """The newest runs of a sync may be open: one running, and possibly one queued behind it."""
        created, started, _ = times
        ids = self._sync_runs[sync_id]
        running = any(is_open(self._runs[run_id]) for run_id in ids)
        status = "queued" if running else self._rng.choice(OPEN_STATUSES[1:])
        return self._gen.open_run(self._take_run_id(), created, started, status)

    def _new_sync(self, created_us: int) -> str:
        sync_id = str(self._next_sync_id)
        self._next_sync_id += 1
        self._syncs[sync_id] = self._gen.make_sync(int(sync_id), created_us, WORKSPACE_ID)
        self._sync_runs[sync_id] = []
        return sync_id

    def _take_run_id(self) -> int:
        run_id = self._next_run_id
        self._next_run_id += 1
        return run_id

    def _store(self, sync_id: str, run: dict[str, Any]) -> None:
        self._runs[run["id"]] = run
        self._run_sync[run["id"]] = sync_id
        self._sync_runs[sync_id].append(run["id"])

    def _refresh_sync(self, sync_id: str) -> None:
        """A sync's status and lastRunAt follow its newest run, as the Hightouch UI shows them."""
        sync = self._syncs[sync_id]
        ids = self._sync_runs[sync_id]
        if not ids:
            return
        newest = self._runs[ids[-1]]
        status = newest["status"]
        last_run = newest["startedAt"]
        if (sync["status"], sync["lastRunAt"]) != (status, last_run):
            updated = max(parse_us(sync["updatedAt"]), parse_us(last_run))
            sync.update(status=status, lastRunAt=last_run, updatedAt=format_us(updated))

    # -------------------------------------------------------------- reading
    @property
    def now(self) -> datetime:
        """The simulated clock (aware UTC)."""
        with self._lock:
            return from_us(self._now_us)

    @property
    def syncs(self) -> list[dict[str, Any]]:
        """Live syncs (copies), ordered by id."""
        with self._lock:
            return [copy.deepcopy(self._syncs[key]) for key in sorted(self._syncs, key=int)]

    @property
    def run_count(self) -> int:
        """Number of runs of live syncs."""
        with self._lock:
            return sum(len(self._sync_runs[sync_id]) for sync_id in self._syncs)

    def sync(self, sync_id: str) -> dict[str, Any] | None:
        """A live sync (copy), or None."""
        with self._lock:
            sync = self._syncs.get(str(sync_id))
            return None if sync is None else copy.deepcopy(sync)

    def runs_of(self, sync_id: str) -> list[dict[str, Any]] | None:
        """Runs of a live sync in id (= creation) order, as copies; None if the sync is not live."""
        with self._lock:
            ids = self._sync_runs.get(str(sync_id)) if str(sync_id) in self._syncs else None
            return None if ids is None else [copy.deepcopy(self._runs[i]) for i in ids]

    def run(self, run_id: int) -> dict[str, Any] | None:
        """A run (copy) of any sync, deleted ones included, or None."""
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else copy.deepcopy(run)

    def sync_of_run(self, run_id: int) -> str:
        """The id of the sync a run belongs to."""
        with self._lock:
            return self._run_sync[run_id]

    def open_run_ids(self, sync_id: str | None = None) -> list[int]:
        """Ids of runs still open (of one live sync, or of every live sync)."""
        with self._lock:
            syncs = [str(sync_id)] if sync_id is not None else list(self._syncs)
            return [
                run_id
                for key in syncs
                for run_id in self._sync_runs.get(key, ())
                if is_open(self._runs[run_id])
            ]

    def query_syncs(
        self, select: Callable[[Mapping[str, Any]], bool], order_by: str, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """(one page of copies, total) of the live syncs that `select` keeps, sorted ascending."""
        with self._lock:
            chosen = [sync for sync in self._syncs.values() if select(sync)]
            chosen.sort(key=lambda sync: (_sort_key(sync.get(order_by)), int(sync["id"])))
            page = chosen[offset : offset + limit]
            return [copy.deepcopy(sync) for sync in page], len(chosen)

    def query_runs(
        self,
        sync_id: str,
        select: Callable[[Mapping[str, Any]], bool],
        order_by: str,
        offset: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int] | None:
        """(one page of copies, total) of a live sync's runs that `select` keeps; None if no sync.

        Sorted ascending on `order_by`, ties by id; a null value sorts last.
        """
        with self._lock:
            if str(sync_id) not in self._syncs:
                return None
            runs = [self._runs[run_id] for run_id in self._sync_runs[str(sync_id)]]
            chosen = [run for run in runs if select(run)]
            if order_by != "id":
                chosen.sort(key=lambda run: (_sort_key(run.get(order_by)), run["id"]))
            page = chosen[offset : offset + limit]
            return [copy.deepcopy(run) for run in page], len(chosen)

    def ground_truth_runs(self) -> list[dict[str, Any]]:
        """Every run a complete loader holds, by id: the API object plus its sync's `syncId`.

        Runs of deleted syncs stay, as they were at deletion.
        """
        with self._lock:
            return [
                {**copy.deepcopy(self._runs[run_id]), "syncId": self._run_sync[run_id]}
                for run_id in sorted(self._runs)
            ]

    def ground_truth_syncs(self) -> list[dict[str, Any]]:
        """Live syncs plus deleted syncs as they were at deletion, ordered by id."""
        with self._lock:
            every = {**self._deleted, **self._syncs}
            return [copy.deepcopy(every[key]) for key in sorted(every, key=int)]

    # ------------------------------------------------------------ mutating
    def add_run(self, sync_id: str, **fields: Any) -> dict[str, Any]:
        """Add a finished run created now to a live sync; `fields` override generated values."""
        with self._lock:
            sync_id = self._require_live(sync_id)
            now = self._now_us
            run = self._gen.finished_run(self._take_run_id(), now, now, now)
            run.update({key: value for key, value in fields.items() if key != "id"})
            self._store(sync_id, run)
            self._refresh_sync(sync_id)
            return copy.deepcopy(run)

    def update_run(self, run_id: int, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into a run of a live sync and return a copy."""
        with self._lock:
            sync_id = self._run_sync.get(run_id)
            if sync_id is None or sync_id not in self._syncs:
                raise KeyError(f"no run {run_id} of a live sync")
            if "id" in fields:
                raise ValueError("a run's id cannot change")
            self._runs[run_id].update(fields)
            self._refresh_sync(sync_id)
            return copy.deepcopy(self._runs[run_id])

    def step_run(self, run_id: int) -> dict[str, Any]:
        """Move one open run one step on its lifecycle, at the current clock."""
        with self._lock:
            run = self._runs[run_id]
            if not is_open(run):
                raise ValueError(f"run {run_id} is finished")
            stepped = self._gen.advance_open(run, self._now_us)
            return self.update_run(run_id, **{k: v for k, v in stepped.items() if k != "id"})

    def delete_sync(self, sync_id: str) -> None:
        """Delete a live sync: its runs leave the API (404) but stay in the ground truth."""
        with self._lock:
            key = self._require_live(sync_id)
            self._deleted[key] = self._syncs.pop(key)

    def advance(
        self,
        seconds: float = 3600,
        new_runs_per_sync: int | Mapping[str, int] = 1,
        finish_open: bool = True,
        add_syncs: int = 0,
        delete_syncs: Iterable[str] = (),
    ) -> AdvanceReport:
        """Move the clock on by ``seconds`` and let the workspace evolve.

        Order: delete the given syncs; per live sync, finish its open runs (if ``finish_open``;
        a queued run starts first, so its startedAt moves forward), then create
        ``new_runs_per_sync`` runs (an int or a mapping sync id -> count), the newest possibly
        left open; add ``add_syncs`` syncs with 1 to 5 runs. Everything happens in
        (old now, new now], each sync's runs one after the other.
        """
        with self._lock:
            step = int(seconds * US_PER_S)
            step -= step % US_PER_MS
            if step <= 0:
                raise ValueError("seconds must be at least 0.001")
            report = AdvanceReport()
            doomed = [self._require_live(sync_id) for sync_id in dict.fromkeys(delete_syncs)]
            for sync_id in doomed:
                self.delete_sync(sync_id)
                report.deleted_sync_ids.append(sync_id)
            old, new = self._now_us, self._now_us + step
            for _ in range(add_syncs):
                sync_id = self._new_sync(old + US_PER_MS)
                report.added_sync_ids.append(sync_id)
            plan: list[tuple[int, str, str, int, int]] = []  # (when, sync, kind, value, slot)
            for sync_id in sorted(self._syncs, key=int):
                pending = self.open_run_ids(sync_id) if finish_open else []
                if sync_id in report.added_sync_ids:
                    count = self._rng.randint(1, 5)
                elif isinstance(new_runs_per_sync, Mapping):
                    count = int(new_runs_per_sync.get(sync_id, 0))
                else:
                    count = int(new_runs_per_sync)
                slot = step // (len(pending) + count + 1)
                events = [("finish", run_id) for run_id in pending]
                events += [("new", int(index == count - 1)) for index in range(count)]
                for index, (kind, value) in enumerate(events):
                    plan.append((old + index * slot, sync_id, kind, value, slot))
            plan.sort(key=lambda item: (item[0], int(item[1])))  # run ids follow creation time
            for when, sync_id, kind, value, slot in plan:
                if kind == "finish":
                    self._finish(value, when, slot)
                    report.finished_run_ids.append(value)
                else:
                    report.new_run_ids.append(self._new_run(sync_id, when, slot, bool(value)))
            for sync_id in self._syncs:
                self._refresh_sync(sync_id)
            self._now_us = new
            return report

    # ------------------------------------------------------------ internals
    def _finish(self, run_id: int, slot_start: int, slot: int) -> None:
        run = self._runs[run_id]
        started = parse_us(run["startedAt"])
        if run["status"] == "queued":
            started = max(started, slot_start + US_PER_MS)
        finished = max(started, slot_start + self._jitter(slot))
        self._runs[run_id] = self._gen.finish(run, started, finished)

    def _new_run(self, sync_id: str, slot_start: int, slot: int, newest: bool) -> int:
        gen, rng = self._gen, self._rng
        created = slot_start + US_PER_MS + self._jitter(slot // 4)
        started = created + self._jitter(slot // 8)
        run_id = self._take_run_id()
        if newest and rng.random() < 0.3:
            status = rng.choice(OPEN_STATUSES)
            run = gen.open_run(run_id, created, started, status)
        else:
            run = gen.finished_run(run_id, created, started, started + self._jitter(slot // 2))
        self._store(sync_id, run)
        return run_id

    def _jitter(self, span_us: int) -> int:
        """A random millisecond-aligned duration in [0, span)."""
        return self._rng.randrange(max(1, span_us // US_PER_MS)) * US_PER_MS

    def _require_live(self, sync_id: str) -> str:
        key = str(sync_id)
        if key not in self._syncs:
            raise KeyError(f"no live sync {sync_id}")
        return key


def _sort_key(value: Any) -> tuple[int, Any]:
    """Sort key of a field value: timestamps as instants, nulls last."""
    if value is None:
        return (1, 0)
    if isinstance(value, str):
        try:
            return (0, parse_us(value))
        except ValueError:
            return (0, value)
    return (0, value)
