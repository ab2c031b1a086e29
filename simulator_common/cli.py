"""The standalone runner every simulator's ``__main__`` shares: options, serving, exit report."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from .faults import SeededFaultPlan
from .lifecycle import ServedSimulator

__all__ = ["add_fault_arguments", "add_server_arguments", "report_injected", "serve_until_signal"]


def add_server_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    """``--seed``, ``--host`` and ``--port``."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port, help="0 lets the OS choose")


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
