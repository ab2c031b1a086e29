"""Fetch-and-parse ceiling: every run page fetched and parsed, nothing loaded or kept.

``python -m benchmarks.ceiling --base-url URL --token T [--threads 8]`` lists the syncs, then
N threads, each with its own keep-alive ``requests.Session``, take syncs from a shared queue
and GET every 100-run page of each, following ``pagination.next_page``, parsing each body with
``orjson.loads`` (``json.loads`` if orjson is absent). Prints one JSON line: wall_s, runs,
requests, runs_per_s, peak_rss_mib. :func:`measure_ceiling` runs it in a fresh process against
the world the simulator serves now.
"""

from __future__ import annotations

import argparse
import json
import queue
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from benchmarks.simulator_process import PAGE_SIZE, SimulatorProcess

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Ceiling:
    """One fetch-and-parse pass over the world of one scenario and repetition."""

    scenario: str
    rep: int
    threads: int
    wall_s: float
    runs: int
    requests: int
    peak_rss_mib: float
    world_runs: int
    not_ok: int

    @property
    def runs_per_s(self) -> float:
        """Runs parsed per second of wall time."""
        return self.runs / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def complete(self) -> bool:
        """Every run of the world was parsed, and the simulator answered 200 to everything."""
        return self.runs == self.world_runs and self.not_ok == 0


def _parser() -> Callable[[bytes], Any]:
    try:
        import orjson
    except ImportError:
        return json.loads
    return orjson.loads


class _Pages:
    """GETs every page of a list endpoint on one session; counts requests and items."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.loads = _parser()
        self.requests = 0
        self.items = 0

    def walk(self, path: str, keep: bool = False) -> list[Any]:
        """Every page of `path`, parsed and counted; the items returned only if `keep`."""
        kept: list[Any] = []
        page: int | None = 1
        while page is not None:
            response = self.session.get(
                f"{self.base_url}/{path}", params={"per_page": PAGE_SIZE, "page": page}
            )
            self.requests += 1
            if response.status_code != 200:
                raise RuntimeError(f"{path} page {page}: HTTP {response.status_code}")
            body = self.loads(response.content)
            data = body["data"]
            self.items += len(data)
            if keep:
                kept += data
            pagination = body.get("pagination") or {}
            following = pagination.get("next_page")
            last = pagination.get("last_page")
            page = following if following is not None and (last is None or page < last) else None
        return kept


def fetch_all(base_url: str, token: str, threads: int) -> dict[str, float]:
    """List the syncs, then fetch and parse every run page from `threads` threads."""
    started = time.perf_counter()
    lister = _Pages(base_url, token)
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for sync in lister.walk("syncs", keep=True):
        work.put(int(sync["id"]))
    fetchers = [_Pages(base_url, token) for _ in range(threads)]
    failures: list[BaseException] = []

    def drain(fetcher: _Pages) -> None:
        try:
            while True:
                try:
                    sync_id = work.get_nowait()
                except queue.Empty:
                    return
                fetcher.walk(f"syncs/{sync_id}/sync_runs")
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=drain, args=(fetcher,)) for fetcher in fetchers]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall_s = time.perf_counter() - started
    if failures:
        raise failures[0]
    runs = sum(fetcher.items for fetcher in fetchers)
    return {
        "wall_s": wall_s,
        "runs": runs,
        "requests": lister.requests + sum(fetcher.requests for fetcher in fetchers),
        "runs_per_s": runs / wall_s if wall_s > 0 else 0.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_ceiling(
    sim: SimulatorProcess, scenario: str, rep: int, threads: int, timeout_s: float = 3600.0
) -> Ceiling:
    """Run the ceiling in a fresh process against the world served now, at zero latency."""
    world = sim.world
    if world is None:
        raise RuntimeError("the simulator serves no world yet")
    sim.set_latency(0.0)
    sim.reset_log()
    command = [sys.executable, "-m", "benchmarks.ceiling", "--base-url", world.base_url]
    command += ["--token", sim.token, "--threads", str(threads)]
    done = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-30:])
        raise RuntimeError(f"ceiling failed (exit {done.returncode}):\n{tail}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    counts = sim.request_counts()
    return Ceiling(
        scenario=scenario,
        rep=rep,
        threads=threads,
        wall_s=float(result["wall_s"]),
        runs=int(result["runs"]),
        requests=int(result["requests"]),
        peak_rss_mib=float(result["peak_rss_mib"]),
        world_runs=world.runs,
        not_ok=counts.not_ok,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch and parse everything once; print the measurements as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling", description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    print(json.dumps(fetch_all(args.base_url, args.token, args.threads)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
