"""Run a standalone simulator: ``python -m census_simulator --port 8765``.

The first stdout line is the API base URL; generation stats go to stderr. SIGTERM or SIGINT
stops the server cleanly.
"""

from __future__ import annotations

import argparse
import resource
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from .server import CensusSimulator
from .world import World


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m census_simulator", description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 lets the OS choose")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--token", default="sim-token")
    parser.add_argument(
        "--runs-per-sync", type=int, help="runs of each sync (default world if neither given)"
    )
    parser.add_argument("--syncs", type=int, help="number of syncs (default 200 with the above)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the world, serve it until SIGTERM/SIGINT, and return the exit code."""
    args = _parse_args(argv)
    counts: tuple[int, ...] | None = None
    if args.runs_per_sync is not None or args.syncs is not None:
        runs = 1000 if args.runs_per_sync is None else args.runs_per_sync
        counts = (runs,) * (200 if args.syncs is None else args.syncs)
    began = time.perf_counter()
    world = World(seed=args.seed, sync_run_counts=counts)
    elapsed = time.perf_counter() - began
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with CensusSimulator(
        world, token=args.token, latency=args.latency, host=args.host, port=args.port
    ) as sim:
        print(sim.base_url, flush=True)
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"census_simulator: {world.run_count} runs in {len(world.syncs)} syncs, "
            f"generated in {elapsed:.1f} s, max RSS {rss_mib:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
