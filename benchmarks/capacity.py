"""How many 100-run pages per second the simulator serves, from several client threads.

The clients are plain ``http.client`` keep-alive connections in the harness process (not dlt),
so the figure is a lower bound of the simulator's capacity: it shows the simulator is not what
limits the loaders.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from benchmarks.simulator_process import PAGE_SIZE, SimulatorProcess


@dataclass(frozen=True)
class Capacity:
    """Pages served by the simulator in one timed burst."""

    threads: int
    pages: int
    seconds: float
    sim_cpu_s: float

    @property
    def pages_per_s(self) -> float:
        """100-run pages answered per second."""
        return self.pages / self.seconds if self.seconds > 0 else 0.0


def _client(
    base_url: str,
    token: str,
    sync_ids: list[int],
    pages_per_sync: int,
    seed: int,
    deadline: float,
    counts: list[int],
    slot: int,
) -> None:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(seed)
    done = 0
    try:
        while time.perf_counter() < deadline:
            sync_id = rng.choice(sync_ids)
            page = rng.randint(1, pages_per_sync)
            path = f"{parts.path}/syncs/{sync_id}/sync_runs?page={page}&per_page={PAGE_SIZE}"
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"simulator answered {response.status} on {path}")
            done += 1
    finally:
        connection.close()
        counts[slot] = done


def measure_capacity(
    sim: SimulatorProcess,
    syncs: int,
    runs_per_sync: int,
    seed: int,
    thread_counts: tuple[int, ...] = (1, 4, 8),
    seconds: float = 3.0,
) -> list[Capacity]:
    """Serve a fresh world at zero latency and hammer it with each number of client threads."""
    sim.set_latency(0.0)
    world = sim.build(syncs, runs_per_sync, seed)
    pages_per_sync = max(1, -(-runs_per_sync // PAGE_SIZE))
    results: list[Capacity] = []
    for threads in thread_counts:
        counts = [0] * threads
        sim.reset_log()
        started = time.perf_counter()
        deadline = started + seconds
        workers = [
            threading.Thread(
                target=_client,
                args=(
                    world.base_url,
                    sim.token,
                    world.sync_ids,
                    pages_per_sync,
                    index,
                    deadline,
                    counts,
                    index,
                ),
            )
            for index in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        served = sim.request_counts()
        results.append(Capacity(threads, sum(counts), elapsed, served.sim_cpu_s))
    return results
