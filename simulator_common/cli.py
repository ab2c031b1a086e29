"""The standalone runner every simulator's ``__main__`` shares: options, serving, exit report."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from .faults import SeededFaultPlan
from .lifecycle import ServedSimulator
from .odd_values import OddValues

__all__ = [
    "add_fault_arguments",
    "add_odd_arguments",
    "odd_values",
    "report_injected",
    "report_odd",
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


def add_odd_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--odd-rate``: the share of odd payload values, seeded by ``--seed`` (0: off)."""
    parser.add_argument(
        "--odd-rate",
        type=float,
        default=0.0,
        help="share of runs / run fields sent with odd values, 0..1 (seeded by --seed)",
    )


def odd_values(args: argparse.Namespace) -> OddValues | None:
    """The :class:`OddValues` of ``--odd-rate`` and ``--seed``, or None when the rate is 0.

    Raises ValueError for a rate outside [0, 1].
    """
    if args.odd_rate == 0:
        return None
    return OddValues(seed=args.seed, rate=args.odd_rate)


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


def report_odd(name: str, injected: Callable[[], Mapping[str, int]] | None) -> None:
    """Print the counts of injected odd values to stderr (nothing without odd values)."""
    if injected is None:
        return
    counts = ", ".join(f"{kind}={n}" for kind, n in sorted(injected().items()))
    print(f"{name}: injected odd values: {counts or 'none'}", file=sys.stderr)


def run(
    name: str,
    simulator: ServedSimulator,
    urls: Callable[[], Sequence[str]],
    stats: Callable[[], str],
    plan: SeededFaultPlan | None,
    *,
    tick: float = 0.5,
    on_tick: Callable[[], Any] | None = None,
    odd_injected: Callable[[], Mapping[str, int]] | None = None,
) -> int:
    """Serve ``simulator`` until SIGTERM or SIGINT; return the exit code (0).

    Once the port is bound: each of ``urls()`` on its own stdout line (what a harness reads
    first), then ``<name>: <stats()>`` on stderr. ``on_tick`` runs every ``tick`` seconds
    meanwhile. On the way out, the injected fault counts of ``plan`` go to stderr, and the
    injected odd value counts when ``odd_injected`` is given.
    """

    def announce() -> None:
        for url in urls():
            print(url, flush=True)
        print(f"{name}: {stats()}", file=sys.stderr, flush=True)

    serve_until_signal(simulator, announce, tick=tick, on_tick=on_tick)
    report_injected(name, plan)
    report_odd(name, odd_injected)
    return 0
