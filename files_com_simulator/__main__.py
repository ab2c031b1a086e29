"""Run a standalone simulator: ``python -m files_com_simulator --port 8766``.

The first stdout line is the API base URL (pass it as ``base_url``); the site's size goes to
stderr. SIGTERM or SIGINT stops it. ``--fault-rate 0.1 --fault-seed 7`` faults about 10 % of
requests; ``--advance-every 60`` moves simulated time on by that many seconds each real minute.
``--odd-rate 0.05`` sends odd payload values seeded by ``--seed`` (see
:mod:`simulator_common.odd_values`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulator_common import cli

from .faults import ALL_FAULTS, FaultPlan
from .server import DEFAULT_API_KEY, FilesComSimulator
from .world import World


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.simulator_parser("files_com_simulator", __doc__, default_port=8766)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--syncs", type=int, help="number of syncs (with --runs-per-sync)")
    parser.add_argument("--runs-per-sync", type=int, help="runs of each sync")
    parser.add_argument("--advance-every", type=float, default=0.0, metavar="SECONDS")
    cli.add_odd_arguments(parser)
    cli.add_fault_arguments(parser)
    parser.add_argument("--fault-max-consecutive", type=int, default=2)
    args = parser.parse_args(argv)
    if not 0.0 <= args.fault_rate <= 1.0:
        parser.error("--fault-rate must be within 0..1")
    try:
        args.odd = cli.odd_values(args)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Build the world, serve it until SIGTERM/SIGINT, and return the exit code."""
    args = _parse_args(argv)
    counts = None
    if args.syncs is not None or args.runs_per_sync is not None:
        counts = (args.runs_per_sync or 100,) * (args.syncs or 10)
    world = World(seed=args.seed, sync_run_counts=counts, odd=args.odd)
    plan = None
    if args.fault_rate > 0:
        plan = FaultPlan(
            args.fault_seed, args.fault_rate, ALL_FAULTS, args.fault_max_consecutive, 1.0
        )
    sim = FilesComSimulator(
        world,
        api_key=args.api_key,
        latency=args.latency,
        faults=plan,
        host=args.host,
        port=args.port,
    )
    every = args.advance_every
    return cli.run(
        "files_com_simulator",
        sim,
        urls=lambda: [sim.base_url],
        stats=lambda: (
            f"{world.run_count} runs in {len(world.sync_ids)} syncs, "
            f"clock at {world.now.isoformat()}"
        ),
        plan=plan,
        odd_injected=None if args.odd is None else world.odd_injected,
        tick=60.0 if every > 0 else 0.5,  # simulated time moves on once each real minute
        on_tick=(lambda: world.advance(seconds=every)) if every > 0 else None,
    )


if __name__ == "__main__":
    sys.exit(main())
