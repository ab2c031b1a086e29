"""Run a standalone Hightouch simulator: ``python -m hightouch_simulator --port 8766``.

The first stdout line is the API root to use as ``base_url``; stats go to stderr. SIGTERM or
SIGINT stops it. ``--fault-rate 0.1 --fault-seed 7`` faults about 10 % of requests;
``--numeric-run-ids``, ``--omit-has-more`` and ``--max-limit N`` answer like an older API;
``--odd-rate 0.05`` sends odd payload values seeded by ``--seed`` (see
:mod:`simulator_common.odd_values`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simulator_common import cli

from .faults import ALL_FAULTS, FaultPlan
from .quirks import ApiQuirks
from .server import DEFAULT_RATE_LIMIT, HightouchSimulator
from .world import World


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.simulator_parser("hightouch_simulator", __doc__, default_port=8766)
    parser.add_argument("--token", default="sim-token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--syncs", type=int, help="number of syncs (default world if not given)")
    parser.add_argument("--runs-per-sync", type=int, default=200)
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT[0],
        help="requests per --rate-window seconds (0 = unlimited)",
    )
    parser.add_argument("--rate-window", type=float, default=DEFAULT_RATE_LIMIT[1])
    parser.add_argument("--numeric-run-ids", action="store_true", help="run ids as numbers")
    parser.add_argument("--omit-has-more", action="store_true", help="lists without hasMore")
    parser.add_argument("--max-limit", type=int, default=100, help="cap on limit (silent)")
    cli.add_odd_arguments(parser)
    cli.add_fault_arguments(parser)
    parser.add_argument("--fault-kinds", help=f"comma list of {','.join(ALL_FAULTS)}")
    parser.add_argument("--fault-max-consecutive", type=int)
    args = parser.parse_args(argv)
    try:
        args.odd = cli.odd_values(args)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Build the world, serve it until SIGTERM/SIGINT, and return the exit code."""
    args = _parse_args(argv)
    counts = None if args.syncs is None else (args.runs_per_sync,) * args.syncs
    world = World(seed=args.seed, sync_run_counts=counts, odd=args.odd)
    plan = None
    if args.fault_rate > 0:
        kinds = ALL_FAULTS if not args.fault_kinds else args.fault_kinds.split(",")
        plan = FaultPlan(
            args.fault_seed, args.fault_rate, kinds, max_consecutive=args.fault_max_consecutive
        )
    limit = (args.rate_limit, args.rate_window) if args.rate_limit > 0 else None
    sim = HightouchSimulator(
        world,
        args.token,
        latency=args.latency,
        faults=plan,
        rate_limit=limit,
        quirks=ApiQuirks(
            numeric_run_ids=args.numeric_run_ids,
            omit_has_more=args.omit_has_more,
            max_limit=args.max_limit,
        ),
        host=args.host,
        port=args.port,
    )
    return cli.run(
        "hightouch_simulator",
        sim,
        urls=lambda: [sim.base_url],
        stats=lambda: f"{world.run_count} runs in {len(world.syncs)} syncs",
        plan=plan,
        odd_injected=None if args.odd is None else world.odd_injected,
    )


if __name__ == "__main__":
    sys.exit(main())
