"""The simulated Census workspace: syncs, their runs, a clock, and the ground truth."""

from __future__ import annotations

import heapq
import json
import random
import threading
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any, Final

from simulator_common.odd_values import (
    OddEncoding,
    OddFields,
    OddInjector,
    OddValue,
    OddValues,
)
from simulator_common.timefmt import (
    US_PER_MIN,
    US_PER_MS,
    US_PER_S,
    coerce_timestamp,
    format_us,
    from_us,
    parse_us,
    to_us,
)

from .generator import COUNT_KEYS, TERMINAL_STATUSES, Generator, SyncProfile
from .records import (
    DEFAULT_RECORDS_RETENTION_DAYS,
    check_filters,
    make_records,
    retention_reference_us,
    status_matches,
)

DEFAULT_RUN_COUNTS: Final[tuple[int, ...]] = (0, 1, 99, 100, 101, 2500, 7, 30)
"""Runs per sync of the default world: the 100-per-page edges and one long history."""

DEFAULT_GROUP: Final = "projected_sickle"
"""The only group (Census workspace) of a world built without ``groups``."""

DEFAULT_START: Final = datetime(2024, 1, 1, tzinfo=UTC)
FIRST_SYNC_ID: Final = 1000
FIRST_RUN_ID: Final = 100_000

_SLOT_US: Final = 15 * US_PER_MIN
_US_PER_DAY: Final = 86_400 * US_PER_S
_RECORDS_CACHE_SIZE: Final = 64
"""Runs whose generated records are kept (at most 450 records each)."""
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

ODD_FIELDS: Final = OddFields(
    counts=(*COUNT_KEYS, "batch_count"),
    timestamps=("updated_at", "scheduled_execution_time"),
    cursor_timestamps=("completed_at",),
    flags=("canceled", "full_sync"),
    texts=("error_message", "error_detail", "current_step"),
    status="status",
)
"""The run fields odd values may hit (see :mod:`simulator_common.odd_values`).

Never ``id``, ``sync_id`` or ``created_at`` (the source's cursor). ``completed_at`` gets only
the same-instant encodings: the source parses it for records retention and tells open runs
by its being null. The unfit blanks (``empty_string``, ``whitespace``) hit counts and the
non-null ``updated_at`` / ``scheduled_execution_time``.
"""


class _Missing:
    """Type of :data:`MISSING`."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Pass as a field value to :meth:`World.update_run` / :meth:`World.add_run` to drop the key."""


def _encode(obj: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def _decode(doc: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(doc)
    return value


@dataclass(frozen=True)
class _Record:
    """One served record: the fields the filters look at and its cached JSON."""

    status: str
    operation: str
    identifier: str | None
    doc: bytes


@dataclass
class AdvanceReport:
    """What one :meth:`World.advance` call changed."""

    new_run_ids: list[int] = field(default_factory=list)
    finished_run_ids: list[int] = field(default_factory=list)
    added_sync_ids: list[int] = field(default_factory=list)
    deleted_sync_ids: list[int] = field(default_factory=list)


class _SyncState:
    """One sync: its dict, cached JSON, group, and its run ids ordered by (created_at, id)."""

    __slots__ = ("created_us", "doc", "group", "ids", "keys", "open_ids", "profile", "sync")

    def __init__(self, sync: dict[str, Any], profile: SyncProfile, group: str) -> None:
        self.sync = sync
        self.group = group
        self.doc = _encode(sync)
        self.created_us = parse_us(sync["created_at"])
        self.profile = profile
        self.ids = array("q")
        self.keys = array("q")
        self.open_ids: set[int] = set()

    def set_sync(self, sync: dict[str, Any]) -> None:
        self.sync = sync
        self.doc = _encode(sync)

    def insert(self, run_id: int, created_us: int) -> None:
        """Insert a run id keeping (created, id) order; ids are usually appended at the end."""
        keys, ids = self.keys, self.ids
        if not keys or (keys[-1], ids[-1]) < (created_us, run_id):
            keys.append(created_us)
            ids.append(run_id)
            return
        index = bisect_right(keys, created_us)
        while index > 0 and keys[index - 1] == created_us and ids[index - 1] > run_id:
            index -= 1
        keys.insert(index, created_us)
        ids.insert(index, run_id)

    def remove(self, run_id: int) -> None:
        index = self.ids.index(run_id)
        del self.ids[index]
        del self.keys[index]


class World:
    """A deterministic, thread-safe simulated Census workspace.

    ``sync_run_counts`` gives one sync per entry with that many runs (default
    :data:`DEFAULT_RUN_COUNTS`); ``start`` (tz-aware) is where history begins (default
    2024-01-01Z). Runs are stored as their cached JSON bytes (the source of truth) so that a
    million runs fit comfortably in memory and list pages are a join of cached strings.

    ``groups`` are the ids of the Fivetran groups (= Census workspaces) the syncs belong to
    (default one group, :data:`DEFAULT_GROUP`): the i-th sync created, counting syncs added
    later, belongs to ``groups[i % len(groups)]``. Groups draw no random numbers and appear in
    no v1 document, so a seed gives the same v1 world whatever the groups.

    ``odd`` sends odd payloads (None: none): same-meaning encodings in what the API serves, and
    unfit values stored in about ``odd.rate`` of the runs generated by the constructor and
    :meth:`advance` (runs added with :meth:`add_run` keep exactly what they are given), in the
    fields :data:`ODD_FIELDS` names; their truth is :meth:`odd_values`, :meth:`odd_encodings`
    and :meth:`odd_injected`. Runs that get nothing odd are the same as without ``odd``.
    """

    def __init__(
        self,
        seed: int = 0,
        sync_run_counts: Sequence[int] | None = None,
        start: datetime | None = None,
        groups: Sequence[str] | None = None,
        *,
        odd: OddValues | None = None,
    ) -> None:
        counts = tuple(DEFAULT_RUN_COUNTS if sync_run_counts is None else sync_run_counts)
        if any(count < 0 for count in counts):
            raise ValueError("sync_run_counts must be non-negative")
        self._groups = _check_groups(groups)
        self._syncs_created = 0
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._gen = Generator(self._rng)
        self.seed = seed
        self.start = DEFAULT_START if start is None else start
        self._live: dict[int, _SyncState] = {}
        self._deleted: dict[int, _SyncState] = {}
        self._docs: dict[int, bytes] = {}
        self._run_sync: dict[int, int] = {}
        self._records_cache: dict[int, tuple[bytes, list[_Record]]] = {}
        self._next_sync_id = FIRST_SYNC_ID
        self._next_run_id = FIRST_RUN_ID
        self._now_us = to_us(self.start)
        self.odd = odd
        self._odd = None if odd is None else OddInjector(odd, ODD_FIELDS)
        self._build(counts)
        self._spoil(sorted(self._docs))

    @classmethod
    def ending_near(
        cls,
        when: datetime,
        seed: int = 0,
        sync_run_counts: Sequence[int] | None = None,
        groups: Sequence[str] | None = None,
        *,
        odd: OddValues | None = None,
    ) -> World:
        """The world of this seed moved in time so that its clock is at most 15 min before `when`.

        It moves by whole quarter hours, so its shape (runs, statuses, counts) is the same as
        the unmoved world's; only the timestamps differ. Used where real-time retention matters.
        """
        probe = cls(seed=seed, sync_run_counts=sync_run_counts, groups=groups)
        quarters = (when - probe.now) // timedelta(minutes=15)
        start = probe.start + quarters * timedelta(minutes=15)
        return cls(seed=seed, sync_run_counts=sync_run_counts, start=start, groups=groups, odd=odd)

    # ------------------------------------------------------------ building
    def _build(self, counts: tuple[int, ...]) -> None:
        rng, gen = self._rng, self._gen
        lead_us = 10 * US_PER_MIN
        created_us = to_us(self.start)
        specs: list[tuple[SyncProfile, int, list[int]]] = []
        end_us = created_us
        for count in counts:
            created_us += rng.randint(1, 20) * US_PER_MIN + rng.randrange(1000) * US_PER_MS
            profile = gen.new_profile(self._take_sync_id())
            offsets = gen.history_offsets(profile, count)
            span = -offsets[0] if offsets else 0
            end_us = max(end_us, created_us + lead_us + span)
            specs.append((profile, created_us, offsets))
        end_us += -end_us % _SLOT_US  # align up to a quarter hour
        self._now_us = end_us + rng.randint(2 * 60, 10 * 60) * US_PER_S
        now_us = self._now_us
        histories: list[list[int]] = []
        for profile, sync_created, offsets in specs:
            span = -offsets[0] if offsets else 0
            room = (end_us - sync_created - lead_us - span) // _SLOT_US
            shift = rng.randint(0, max(0, min(4, room))) * _SLOT_US
            state = self._new_state(gen.make_sync(profile, sync_created, now_us), profile)
            self._live[profile.sync_id] = state
            histories.append([end_us - shift + offset for offset in offsets])
        states = list(self._live.values())
        open_plan = [self._draw_open_statuses(len(times)) for times in histories]
        positions = [0] * len(states)
        last_terminal: list[str | None] = [None] * len(states)
        streams = [zip(times, repeat(index)) for index, times in enumerate(histories)]
        for t, index in heapq.merge(*streams):
            state = states[index]
            position = positions[index]
            positions[index] = position + 1
            plan = open_plan[index]
            remaining = len(histories[index]) - position
            status = plan[-remaining] if remaining <= len(plan) else None
            run = gen.make_run(state.profile, self._take_run_id(), t, now_us, status)
            self._store_new_run(state, run, t)
            if run["status"] in TERMINAL_STATUSES and run["status"] != "skipped":
                last_terminal[index] = run["status"]
        for state, status in zip(states, last_terminal, strict=True):
            if status is not None:
                state.set_sync({**state.sync, "status": _sync_status(status)})

    def _draw_open_statuses(self, count: int) -> list[str]:
        """Statuses of a sync's newest runs that are still open (0 to 2 of them)."""
        r = self._rng.random()
        working = "cancelling" if self._rng.random() < 0.12 else "working"
        if r < 0.5 or count == 0:
            return []
        if r < 0.85 or count == 1:
            return [working if self._rng.random() < 0.75 else "queued"]
        return [working, "queued"]

    def _take_sync_id(self) -> int:
        sync_id = self._next_sync_id
        self._next_sync_id += 1
        return sync_id

    def _new_state(self, sync: dict[str, Any], profile: SyncProfile) -> _SyncState:
        """The state of a new sync, in the group its creation order assigns."""
        group = self._groups[self._syncs_created % len(self._groups)]
        self._syncs_created += 1
        return _SyncState(sync, profile, group)

    def _spoil(self, run_ids: Iterable[int]) -> None:
        """Store the unfit values of newly generated runs (after the world drew everything)."""
        odd = self._odd
        if odd is None:
            return
        for run_id in run_ids:
            if not odd.chosen(run_id):
                continue
            run = _decode(self._docs[run_id])
            if odd.spoil(run, _is_terminal(run.get("status"))):
                sync_id = self._run_sync[run_id]
                state = self._live.get(sync_id) or self._deleted[sync_id]
                self._replace_run(state, run, reposition=False)

    def _served(self, doc: bytes) -> bytes:
        """A stored run document as the API sends it (odd encodings applied)."""
        odd = self._odd
        if odd is None:
            return doc
        run = _decode(doc)
        served = odd.wire(run)
        return doc if served is run else _encode(served)

    def _take_run_id(self) -> int:
        run_id = self._next_run_id
        self._next_run_id += 1
        return run_id

    def _store_new_run(self, state: _SyncState, run: dict[str, Any], created_us: int) -> None:
        run_id = run["id"]
        self._docs[run_id] = _encode(run)
        self._run_sync[run_id] = state.profile.sync_id
        state.insert(run_id, created_us)
        if not _is_terminal(run.get("status")):
            state.open_ids.add(run_id)

    # -------------------------------------------------------------- reading
    @property
    def now(self) -> datetime:
        """The simulated clock (tz-aware UTC)."""
        with self._lock:
            return from_us(self._now_us)

    @property
    def groups(self) -> tuple[str, ...]:
        """The group ids; ``groups[0]`` is the workspace the v1 API token belongs to."""
        return self._groups

    def group_of(self, sync_id: int) -> str:
        """The group of a live or deleted sync; KeyError for a sync that never existed."""
        with self._lock:
            state = self._live.get(sync_id) or self._deleted.get(sync_id)
            if state is None:
                raise KeyError(f"no sync {sync_id}")
            return state.group

    def sync_id_of_run(self, run_id: int) -> int | None:
        """The sync of any run ever created (also of deleted syncs), or None."""
        with self._lock:
            return self._run_sync.get(run_id)

    @property
    def syncs(self) -> list[dict[str, Any]]:
        """Live syncs (copies), ordered by id."""
        with self._lock:
            docs = [self._live[sync_id].doc for sync_id in sorted(self._live)]
        return [_decode(doc) for doc in docs]

    @property
    def run_count(self) -> int:
        """Number of runs of live syncs."""
        with self._lock:
            return sum(len(state.ids) for state in self._live.values())

    def sync(self, sync_id: int) -> dict[str, Any] | None:
        """A live sync (copy), or None."""
        doc = self.sync_json(sync_id)
        return None if doc is None else _decode(doc)

    def runs_of(self, sync_id: int) -> list[dict[str, Any]]:
        """Runs of a live sync ascending by (created_at, id), as copies; [] if not live."""
        with self._lock:
            state = self._live.get(sync_id)
            docs = [] if state is None else [self._docs[run_id] for run_id in state.ids]
        return [_decode(doc) for doc in docs]

    def run(self, run_id: int) -> dict[str, Any] | None:
        """A run of a live sync (copy, as stored), or None (also for runs of deleted syncs)."""
        doc = self._live_run_doc(run_id)
        return None if doc is None else _decode(doc)

    def ground_truth_runs(self) -> list[dict[str, Any]]:
        """Every run a complete loader should hold, by id (deleted syncs' runs as at deletion)."""
        return list(self.iter_ground_truth_runs())

    def iter_ground_truth_runs(self) -> Iterator[dict[str, Any]]:
        """Like :meth:`ground_truth_runs` but decodes lazily (for very large worlds)."""
        with self._lock:
            docs = [self._docs[run_id] for run_id in sorted(self._docs)]
        return (_decode(doc) for doc in docs)

    def odd_values(self) -> list[OddValue]:
        """The unfit values stored in runs, by run id: (run_id, field, value) as served.

        A value is listed while its run still holds it (finishing an open run, e.g. one with
        an unknown status, replaces it). [] without ``odd``.
        """
        odd = self._odd
        if odd is None:
            return []

        def current(run_id: int) -> dict[str, Any] | None:
            with self._lock:
                doc = self._docs.get(run_id)
            return None if doc is None else _decode(doc)

        return odd.stored_values(current)

    def odd_encodings(self) -> list[OddEncoding]:
        """The same-meaning encodings every run of :meth:`ground_truth_runs` is served with."""
        odd = self._odd
        if odd is None:
            return []
        return [found for run in self.iter_ground_truth_runs() for found in odd.encodings(run)]

    def odd_injected(self) -> Counter[str]:
        """Odd values injected so far, per kind: unfit values when stored, encodings the first
        time each (run, field) was served. Empty without ``odd``."""
        return Counter() if self._odd is None else self._odd.injected

    def ground_truth_syncs(self) -> list[dict[str, Any]]:
        """Live syncs plus deleted syncs as they were at deletion, sorted by id."""
        with self._lock:
            states = {**self._deleted, **self._live}
            docs = [states[sync_id].doc for sync_id in sorted(states)]
        return [_decode(doc) for doc in docs]

    def records_of(
        self,
        run_id: int,
        status: str | None = None,
        operation: str | None = None,
        primary_identifier: str | None = None,
    ) -> list[dict[str, Any]]:
        """The records of a run as the records endpoint serves them (v1 form, served order).

        Filters work like the endpoint's query parameters (``status="invalid"`` also returns
        ``NULL`` and ``DUPLICATE``; a bad value raises ValueError). Covers every run ever
        created, runs of deleted syncs as at deletion; KeyError for an unknown run; [] for a
        run that is not finished. Retention is not applied here: see :meth:`records_expired`.
        """
        with self._lock:
            if run_id not in self._docs:
                raise KeyError(f"no run {run_id}")
        docs = self._filtered_records(run_id, status, operation, primary_identifier)
        return [_decode(doc) for doc in docs]

    def records_expired(
        self, run_id: int, retention_days: float = DEFAULT_RECORDS_RETENTION_DAYS
    ) -> bool:
        """Whether a run's records are gone: completed_at (or, when null, created_at) is older
        than ``now - retention_days``. KeyError for an unknown run."""
        if retention_days < 0:
            raise ValueError(f"retention_days must be >= 0, not {retention_days}")
        with self._lock:
            doc = self._docs.get(run_id)
            now_us = self._now_us
        if doc is None:
            raise KeyError(f"no run {run_id}")
        reference_us = retention_reference_us(_decode(doc))
        return reference_us is not None and reference_us < now_us - int(
            retention_days * _US_PER_DAY
        )

    # ------------------------------------------------- serialized access (server)
    def sync_json(self, sync_id: int) -> bytes | None:
        """Cached JSON of a live sync, or None."""
        with self._lock:
            state = self._live.get(sync_id)
            return None if state is None else state.doc

    def run_json(self, run_id: int) -> bytes | None:
        """JSON of a run of a live sync as the API sends it, or None."""
        doc = self._live_run_doc(run_id)
        return None if doc is None else self._served(doc)

    def _live_run_doc(self, run_id: int) -> bytes | None:
        """Cached (stored) JSON of a run of a live sync, or None."""
        with self._lock:
            sync_id = self._run_sync.get(run_id)
            if sync_id is None or sync_id not in self._live:
                return None
            return self._docs[run_id]

    def sync_page_json(
        self, page: int, per_page: int, descending: bool, group: str | None = None
    ) -> tuple[int, list[bytes]]:
        """(total, cached JSON of one page) of live syncs ordered by (created_at, id).

        ``group`` restricts the list to that group's syncs (None: every group).
        """
        with self._lock:
            live: Iterable[_SyncState] = self._live.values()
            if group is not None:
                live = [state for state in live if state.group == group]
            states = sorted(live, key=lambda s: (s.created_us, s.profile.sync_id))
            if descending:
                states.reverse()
            start = (page - 1) * per_page
            return len(states), [state.doc for state in states[start : start + per_page]]

    def run_page_json(
        self, sync_id: int, page: int, per_page: int, descending: bool
    ) -> tuple[int, list[bytes]] | None:
        """(total, JSON of one page as sent) of a live sync's runs, or None if not live."""
        with self._lock:
            state = self._live.get(sync_id)
            if state is None:
                return None
            ids = state.ids
            total = len(ids)
            start = (page - 1) * per_page
            if descending:
                high = max(0, total - start)
                selected = ids[max(0, high - per_page) : high]
                selected.reverse()
            else:
                selected = ids[start : start + per_page]
            docs = self._docs
            found = [docs[run_id] for run_id in selected]
        return total, found if self._odd is None else [self._served(doc) for doc in found]

    def records_json(
        self,
        run_id: int,
        status: str | None = None,
        operation: str | None = None,
        primary_identifier: str | None = None,
    ) -> list[bytes] | None:
        """Cached JSON of a run's filtered records (see :meth:`records_of`), or None if the run
        is not a run of a live sync."""
        if self._live_run_doc(run_id) is None:
            return None
        return self._filtered_records(run_id, status, operation, primary_identifier)

    def _filtered_records(
        self,
        run_id: int,
        status: str | None,
        operation: str | None,
        primary_identifier: str | None,
    ) -> list[bytes]:
        check_filters(status, operation)
        return [
            record.doc
            for record in self._records(run_id)
            if status_matches(record.status, status)
            and (operation is None or record.operation == operation)
            and (primary_identifier is None or record.identifier == primary_identifier)
        ]

    def _records(self, run_id: int) -> list[_Record]:
        """All records of a run, cached until the run's document changes."""
        with self._lock:
            doc = self._docs[run_id]
            cached = self._records_cache.get(run_id)
            if cached is not None and cached[0] is doc:
                return cached[1]
            sync_id = self._run_sync[run_id]
            sync = (self._live.get(sync_id) or self._deleted[sync_id]).sync
        records = [
            _Record(record["status"], record["operation"], record["identifier"], _encode(record))
            for record in make_records(self.seed, _decode(doc), sync)
        ]
        with self._lock:
            cache = self._records_cache
            cache[run_id] = (doc, records)
            while len(cache) > _RECORDS_CACHE_SIZE:
                del cache[next(iter(cache))]
        return records

    # ------------------------------------------------------------ mutating
    def add_run(self, sync_id: int, **fields: Any) -> dict[str, Any]:
        """Add a run to a live sync; fields not given are generated (created_at = now).

        ``status`` shapes the generated defaults; datetimes are formatted as API timestamps;
        :data:`MISSING` drops a key. Returns a copy of the stored run.
        """
        with self._lock:
            state = self._require_live(sync_id)
            if "sync_id" in fields:
                raise ValueError("sync_id is given positionally")
            if "id" in fields:
                run_id = int(fields.pop("id"))
                if run_id in self._docs:
                    raise ValueError(f"run id {run_id} already exists")
                self._next_run_id = max(self._next_run_id, run_id + 1)
            else:
                run_id = self._take_run_id()
            fields = {key: coerce_timestamp(value) for key, value in fields.items()}
            created = fields.get("created_at")
            created_us = parse_us(created) if isinstance(created, str) else self._now_us
            status = fields.get("status")
            run = self._gen.make_run(
                state.profile,
                run_id,
                created_us,
                self._now_us,
                status if isinstance(status, str) else None,
            )
            _merge(run, fields)
            self._store_new_run(state, run, _created_key(run, created_us))
            doc = self._docs[run_id]
        return _decode(doc)

    def update_run(self, run_id: int, **fields: Any) -> dict[str, Any]:
        """Merge fields into a run of a live sync (:data:`MISSING` removes a key)."""
        with self._lock:
            if "id" in fields or "sync_id" in fields:
                raise ValueError("id and sync_id cannot be changed")
            state = self._state_of_live_run(run_id)
            fields = {key: coerce_timestamp(value) for key, value in fields.items()}
            run = _decode(self._docs[run_id])
            _merge(run, fields)
            self._replace_run(state, run, reposition=isinstance(fields.get("created_at"), str))
            doc = self._docs[run_id]
        return _decode(doc)

    def delete_sync(self, sync_id: int) -> None:
        """Delete a live sync; its runs leave the API but stay in the ground truth."""
        with self._lock:
            self._deleted[sync_id] = self._require_live(sync_id)
            del self._live[sync_id]

    def advance(
        self,
        seconds: float = 3600,
        new_runs_per_sync: int | Mapping[int, int] = 1,
        finish_open: bool = True,
        add_syncs: int = 0,
        delete_syncs: Iterable[int] = (),
    ) -> AdvanceReport:
        """Move the clock on by ``seconds`` and let the workspace evolve.

        Order: delete the given syncs; finish every run open before the call (if
        ``finish_open``); create ``new_runs_per_sync`` runs per live sync (int or a mapping
        sync id -> count) with created_at in (old now, new now], the newest possibly open; add
        ``add_syncs`` syncs with 1 to 5 runs each. Run ids increase with created_at.
        """
        with self._lock:
            step_us = int(seconds * US_PER_S)
            step_us -= step_us % US_PER_MS
            if step_us <= 0:
                raise ValueError("seconds must be at least 0.001")
            report = AdvanceReport()
            old_us, new_us = self._now_us, self._now_us + step_us
            rng, gen = self._rng, self._gen
            doomed = list(dict.fromkeys(delete_syncs))
            for sync_id in doomed:
                self._require_live(sync_id)  # validate all before changing anything
            for sync_id in doomed:
                self.delete_sync(sync_id)
                report.deleted_sync_ids.append(sync_id)
            touched: set[int] = set()
            if finish_open:
                for sync_id in sorted(self._live):
                    state = self._live[sync_id]
                    for run_id in sorted(state.open_ids):
                        run = _decode(self._docs[run_id])
                        after = max(old_us, _created_key(run, old_us), _updated_key(run))
                        finished = gen.finish_run(state.profile, run, after, new_us)
                        self._replace_run(state, finished, reposition=False)
                        report.finished_run_ids.append(run_id)
                        touched.add(sync_id)
            plan: list[tuple[int, int, _SyncState, bool]] = []  # (created, seq, state, newest)
            for sync_id in sorted(self._live):
                if isinstance(new_runs_per_sync, Mapping):
                    count = int(new_runs_per_sync.get(sync_id, 0))
                else:
                    count = int(new_runs_per_sync)
                plan.extend(self._plan_runs(self._live[sync_id], count, old_us, new_us, len(plan)))
            new_sync_times = sorted(self._random_time(old_us, new_us) for _ in range(add_syncs))
            for sync_created in new_sync_times:
                profile = gen.new_profile(self._take_sync_id())
                state = self._new_state(gen.make_sync(profile, sync_created, new_us), profile)
                self._live[profile.sync_id] = state
                report.added_sync_ids.append(profile.sync_id)
                after_us = max(old_us, state.created_us)
                count = rng.randint(1, 5)
                plan.extend(self._plan_runs(state, count, after_us, new_us, len(plan)))
            plan.sort(key=lambda item: (item[0], item[1]))
            for created_us, _, state, newest in plan:
                status = None
                if newest and rng.random() < 0.3:
                    status = "working" if rng.random() < 0.7 else "queued"
                run = gen.make_run(state.profile, self._take_run_id(), created_us, new_us, status)
                self._store_new_run(state, run, created_us)
                report.new_run_ids.append(run["id"])
                touched.add(state.profile.sync_id)
            for sync_id in sorted(touched):
                self._refresh_sync_status(self._live[sync_id], new_us)
            self._spoil(report.new_run_ids)
            self._now_us = new_us
            return report

    # ------------------------------------------------------------ internals
    def _random_time(self, after_us: int, until_us: int) -> int:
        """A ms-aligned time in (after, until]."""
        first = after_us + US_PER_MS - after_us % US_PER_MS
        if first > until_us:
            return until_us
        return first + self._rng.randint(0, (until_us - first) // US_PER_MS) * US_PER_MS

    def _plan_runs(
        self, state: _SyncState, count: int, after_us: int, until_us: int, seq: int
    ) -> list[tuple[int, int, _SyncState, bool]]:
        times = sorted(self._random_time(after_us, until_us) for _ in range(count))
        return [
            (self._gen.fuzz_precision(t, min(t, after_us + 1)), seq + i, state, i == count - 1)
            for i, t in enumerate(times)
        ]

    def _require_live(self, sync_id: int) -> _SyncState:
        state = self._live.get(sync_id)
        if state is None:
            raise KeyError(f"no live sync {sync_id}")
        return state

    def _state_of_live_run(self, run_id: int) -> _SyncState:
        sync_id = self._run_sync.get(run_id)
        state = None if sync_id is None else self._live.get(sync_id)
        if state is None:
            raise KeyError(f"no run {run_id} of a live sync")
        return state

    def _replace_run(self, state: _SyncState, run: dict[str, Any], reposition: bool) -> None:
        run_id = run["id"]
        self._docs[run_id] = _encode(run)
        if reposition:
            state.remove(run_id)
            state.insert(run_id, parse_us(run["created_at"]))
        if _is_terminal(run.get("status")):
            state.open_ids.discard(run_id)
        else:
            state.open_ids.add(run_id)

    def _refresh_sync_status(self, state: _SyncState, now_us: int) -> None:
        for run_id in reversed(state.ids):
            status = _decode(self._docs[run_id]).get("status")
            if status in ("completed", "failed"):
                new_status = _sync_status(status)
                if new_status != state.sync["status"]:
                    updated = format_us(max(now_us, state.created_us))
                    state.set_sync({**state.sync, "status": new_status, "updated_at": updated})
                return


def _check_groups(groups: Sequence[str] | None) -> tuple[str, ...]:
    if groups is None:
        return (DEFAULT_GROUP,)
    if isinstance(groups, str):
        raise ValueError(f"groups must be a sequence of group ids, not the string {groups!r}")
    checked = tuple(groups)
    if not checked:
        raise ValueError("groups must name at least one group id")
    for group in checked:
        if not isinstance(group, str) or not group or group != group.strip():
            raise ValueError(f"group ids must be non-empty strings without padding: {group!r}")
    duplicates = sorted({group for group in checked if checked.count(group) > 1})
    if duplicates:
        raise ValueError(f"group ids must be unique; repeated: {', '.join(duplicates)}")
    return checked


def _sync_status(last_terminal_status: str) -> str:
    return "failing" if last_terminal_status == "failed" else "up to date"


def _merge(run: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if value is MISSING:
            run.pop(key, None)
        else:
            run[key] = value


def _created_key(run: Mapping[str, Any], default_us: int) -> int:
    created = run.get("created_at")
    return parse_us(created) if isinstance(created, str) else default_us


def _updated_key(run: Mapping[str, Any]) -> int:
    updated = run.get("updated_at")
    if not isinstance(updated, str):
        return 0
    try:
        return parse_us(updated)
    except ValueError:  # an odd value stored in the run
        return 0


def _is_terminal(status: Any) -> bool:
    """Whether a stored status is terminal (any other value, of any JSON type, is open)."""
    return isinstance(status, str) and status in TERMINAL_STATUSES
