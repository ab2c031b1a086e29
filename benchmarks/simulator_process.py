"""The Census simulator in its own process (spawn), driven by commands over a pipe.

Keeping the server out of the harness and the loaders means its CPU time never counts against
the client being measured. Commands: build a world, set latency, mark runs open, advance,
snapshot/floor, ground truth, reset the request log, count requests by kind, stop.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import re
import resource
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

TOKEN = "bench-token-not-a-secret"
PAGE_SIZE = 100  # the API's maximum per_page

_SYNC_LIST = re.compile(r"/api/v1/syncs/?")
_RUN_LIST = re.compile(r"/api/v1/syncs/[^/]+/sync_runs/?")
_RUN_FETCH = re.compile(r"/api/v1/sync_runs/[^/]+/?")
_SYNC_FETCH = re.compile(r"/api/v1/syncs/[^/]+/?")


@dataclass(frozen=True)
class RequestCounts:
    """Requests the simulator answered since the last log reset, by kind."""

    sync_list: int
    run_list: int
    run_fetch: int
    sync_fetch: int
    other: int
    not_ok: int
    sim_cpu_s: float

    @property
    def total(self) -> int:
        """Every request, whatever its kind."""
        return self.sync_list + self.run_list + self.run_fetch + self.sync_fetch + self.other


@dataclass(frozen=True)
class WorldInfo:
    """What a freshly built world holds and where it is served."""

    base_url: str
    syncs: int
    runs: int
    sync_ids: list[int]
    build_s: float


@dataclass(frozen=True)
class Truth:
    """Runs a complete loader must hold now, and how many of them are open."""

    runs: int
    open_runs: int


class SimulatorProcess:
    """Harness-side handle: starts the simulator process and sends it commands."""

    def __init__(self, token: str = TOKEN) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=serve, args=(child, token), name="census-simulator", daemon=True
        )
        self._process.start()
        child.close()
        self.token = token
        self.world: WorldInfo | None = None
        """The world served now (the last one built)."""

    def _call(self, command: str, **kwargs: Any) -> Any:
        self._conn.send((command, kwargs))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"simulator command {command!r} failed:\n{value}")
        return value

    def build(self, syncs: int, runs_per_sync: int, seed: int) -> WorldInfo:
        """Replace the world by a fresh one (same seed, same world) and serve it."""
        info: WorldInfo = self._call("build", syncs=syncs, runs_per_sync=runs_per_sync, seed=seed)
        self.world = info
        return info

    def set_latency(self, seconds: float) -> None:
        """Sleep this long in every request."""
        self._call("set_latency", seconds=seconds)

    def mark_newest_open(self, per_sync: int) -> int:
        """Make each sync's newest `per_sync` runs open (working); returns how many changed."""
        changed: int = self._call("mark_newest_open", per_sync=per_sync)
        return changed

    def advance(self, seconds: float, new_runs_per_sync: int) -> tuple[int, int]:
        """Advance the clock, finishing every open run; returns (new runs, finished runs)."""
        result: tuple[int, int] = self._call(
            "advance", seconds=seconds, new_runs_per_sync=new_runs_per_sync
        )
        return result

    def snapshot(self) -> None:
        """Remember every sync's run ids and open run ids (call right after a load)."""
        self._call("snapshot")

    def floor(self, incremental: bool) -> int:
        """The request floor of a full load, or of an incremental one since the snapshot."""
        floor: int = self._call("floor", incremental=incremental)
        return floor

    def truth(self) -> Truth:
        """Ground truth counts for checking what a loader holds."""
        truth: Truth = self._call("truth")
        return truth

    def reset_log(self) -> None:
        """Forget the logged requests and restart the CPU clock."""
        self._call("reset_log")

    def request_counts(self) -> RequestCounts:
        """Requests since the last reset, by kind, and the simulator's CPU seconds."""
        counts: RequestCounts = self._call("request_counts")
        return counts

    def stop(self) -> None:
        """Stop the server and the process."""
        if self._process.is_alive():
            with contextlib.suppress(EOFError, BrokenPipeError, OSError):
                self._call("stop")
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._conn.close()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(conn: Connection, token: str) -> None:
    """Process entry point: answer commands until `stop` or the pipe closes."""
    driver = _Driver(token)
    try:
        while True:
            try:
                command, kwargs = conn.recv()
            except EOFError:
                return
            try:
                result = getattr(driver, f"cmd_{command}")(**kwargs)
            except Exception:
                conn.send(("error", traceback.format_exc()))
                continue
            conn.send(("ok", result))
            if command == "stop":
                return
    finally:
        driver.cmd_stop()


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Driver:
    """Simulator-process side: owns the World and the CensusSimulator."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.world: Any = None
        self.sim: Any = None
        self.latency = 0.0
        self.snapshot: dict[int, tuple[set[int], set[int]]] = {}
        self.cpu_mark = _cpu_seconds()

    def cmd_build(self, syncs: int, runs_per_sync: int, seed: int) -> WorldInfo:
        from census_simulator import CensusSimulator, World

        self.cmd_stop()
        self.world = self.sim = None
        began = time.perf_counter()
        world = World(seed=seed, sync_run_counts=(runs_per_sync,) * syncs)
        build_s = time.perf_counter() - began
        self.world = world
        self.sim = CensusSimulator(world, token=self.token, latency=self.latency).start()
        self.snapshot = {}
        return WorldInfo(
            base_url=self.sim.base_url,
            syncs=len(world.syncs),
            runs=world.run_count,
            sync_ids=[sync["id"] for sync in world.syncs],
            build_s=build_s,
        )

    def cmd_set_latency(self, seconds: float) -> None:
        self.latency = seconds
        if self.sim is not None:
            self.sim.latency = seconds

    def cmd_mark_newest_open(self, per_sync: int) -> int:
        from census_simulator import MISSING

        changed = 0
        for sync in self.world.syncs:
            runs = self.world.runs_of(sync["id"])
            for run in runs[max(0, len(runs) - per_sync) :]:
                if not _is_open(run):
                    self.world.update_run(
                        run["id"],
                        status="working",
                        completed_at=None,
                        updated_at=run["created_at"],
                        current_step="Running sync",
                        error_code=None,
                        error_message=None,
                        error_detail=None,
                        canceled=False,
                        warehouse_query_seconds=MISSING,
                    )
                    changed += 1
        return changed

    def cmd_advance(self, seconds: float, new_runs_per_sync: int) -> tuple[int, int]:
        report = self.world.advance(
            seconds=seconds, new_runs_per_sync=new_runs_per_sync, finish_open=True
        )
        return len(report.new_run_ids), len(report.finished_run_ids)

    def cmd_snapshot(self) -> None:
        self.snapshot = {}
        for sync in self.world.syncs:
            runs = self.world.runs_of(sync["id"])
            ids = {run["id"] for run in runs}
            self.snapshot[sync["id"]] = (ids, {run["id"] for run in runs if _is_open(run)})

    def cmd_floor(self, incremental: bool) -> int:
        syncs = self.world.syncs
        floor = max(1, math.ceil(len(syncs) / PAGE_SIZE))
        for sync in syncs:
            known = self.snapshot.get(sync["id"]) if incremental else None
            if known is None:  # the run count, without decoding every run
                needed = self.world.run_page_json(sync["id"], 1, 1, True)[0]
            else:
                ids, open_ids = known
                current = {run["id"] for run in self.world.runs_of(sync["id"])}
                needed = len(current - ids) + len(open_ids & current)
            floor += max(1, math.ceil(needed / PAGE_SIZE))
        return floor

    def cmd_truth(self) -> Truth:
        runs = open_runs = 0
        for run in self.world.iter_ground_truth_runs():
            runs += 1
            open_runs += _is_open(run)
        return Truth(runs=runs, open_runs=open_runs)

    def cmd_reset_log(self) -> None:
        self.sim.reset_log()
        self.cpu_mark = _cpu_seconds()

    def cmd_request_counts(self) -> RequestCounts:
        kinds = {"sync_list": 0, "run_list": 0, "run_fetch": 0, "sync_fetch": 0, "other": 0}
        not_ok = 0
        for entry in self.sim.requests:
            kinds[_kind(entry.path)] += 1
            not_ok += entry.status != 200
        return RequestCounts(**kinds, not_ok=not_ok, sim_cpu_s=_cpu_seconds() - self.cpu_mark)

    def cmd_stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()


def _is_open(run: dict[str, Any]) -> bool:
    return run.get("status") not in ("completed", "failed", "skipped")


def _kind(path: str) -> str:
    if _SYNC_LIST.fullmatch(path):
        return "sync_list"
    if _RUN_LIST.fullmatch(path):
        return "run_list"
    if _RUN_FETCH.fullmatch(path):
        return "run_fetch"
    if _SYNC_FETCH.fullmatch(path):
        return "sync_fetch"
    return "other"
