"""The standalone runner every simulator's ``__main__`` shares: options, serving, exit report."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from .faults import SeededFaultPlan
from .lifecycle import ServedSimulator

__all__ = [
    "add_fault_arguments",
    "report_injected",
    "run",
    "serve_until_signal",
    "simulator_parser",
]


def simulator_parser(
    package: str, description: str | None, default_port: int
) -> argparse.ArgumentParser:
    """The parser of ``python -m <package>``, with ``--seed``, ``--host`` and ``--port``."""
    parser = argparse.ArgumentParser(prog=f"python -m {package}", description=description)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port, help="0 lets the OS choose")
    return parser


def add_fault_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--fault-rate`` and ``--fault-seed``."""
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests, 0..1")
    parser.add_argument("--fault-seed", type=int, default=0)


def serve_until_signal(
    simulator: ServedSimulator,
    announce: Callable[[], Any],
    *,
    tick: float = 0.5,
    on_tick: Callable[[], Any] | None = None,
) -> None:
    """Serve ``simulator`` until SIGTERM or SIGINT, then stop it cleanly.

    ``announce`` runs once the port is bound; ``on_tick`` every ``tick`` seconds meanwhile.
    """
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with simulator:
        announce()
        while not stop.wait(tick):
            if on_tick is not None:
                on_tick()


def report_injected(name: str, plan: SeededFaultPlan | None) -> None:
    """Print the counts of injected faults to stderr (nothing without a plan)."""
    if plan is None:
        return
    counts = ", ".join(f"{kind}={n}" for kind, n in sorted(plan.injected.items()))
    print(f"{name}: injected faults: {counts or 'none'}", file=sys.stderr)


def run(
    name: str,
    simulator: ServedSimulator,
    urls: Callable[[], Sequence[str]],
    stats: Callable[[], str],
    plan: SeededFaultPlan | None,
    *,
    tick: float = 0.5,
    on_tick: Callable[[], Any] | None = None,
) -> int:
    """Serve ``simulator`` until SIGTERM or SIGINT; return the exit code (0).

    Once the port is bound: each of ``urls()`` on its own stdout line (what a harness reads
    first), then ``<name>: <stats()>`` on stderr. ``on_tick`` runs every ``tick`` seconds
    meanwhile. On the way out, the injected fault counts of ``plan`` go to stderr.
    """

    def announce() -> None:
        for url in urls():
            print(url, flush=True)
        print(f"{name}: {stats()}", file=sys.stderr, flush=True)

    serve_until_signal(simulator, announce, tick=tick, on_tick=on_tick)
    report_injected(name, plan)
    return 0
