"""Run a standalone simulator: ``python -m census_simulator --port 8765``.

The first stdout line is the API v1 base URL, the second the API v2 base URL; generation stats
go to stderr. SIGTERM or SIGINT stops the server cleanly. ``--fault-rate 0.1 --fault-seed 7``
injects faults into about 10 % of requests; the injected counts go to stderr on exit.
``--odd-rate 0.05`` sends odd payload values (seeded by ``--seed``), see
:mod:`simulator_common.odd_values`; their counts go to stderr on exit.
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from collections.abc import Sequence

from simulator_common import cli

from .faults import ALL_FAULTS, KNOWN_FAULTS, FaultPlan
from .records import DEFAULT_RECORDS_RETENTION_DAYS
from .server import CensusSimulator
from .v2 import DEFAULT_V2_ID_STYLE, V2_ID_STYLES
from .world import DEFAULT_GROUP, World


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = cli.simulator_parser("census_simulator", __doc__, default_port=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--token", default="sim-token", help="workspace API token (/api/v1)")
    parser.add_argument(
        "--personal-access-token", default="sim-pat", help="personal access token (/api/v2)"
    )
    parser.add_argument(
        "--groups",
        metavar="ID,...",
        help=f"group ids, syncs dealt round-robin; v1 sees the first (default {DEFAULT_GROUP})",
    )
    parser.add_argument("--v2-id-style", choices=V2_ID_STYLES, default=DEFAULT_V2_ID_STYLE)
    parser.add_argument(
        "--records-retention-days",
        type=float,
        default=DEFAULT_RECORDS_RETENTION_DAYS,
        help="records of runs finished longer ago answer 410",
    )
    parser.add_argument(
        "--runs-per-sync", type=int, help="runs of each sync (default world if neither given)"
    )
    parser.add_argument("--syncs", type=int, help="number of syncs (default 200 with the above)")
    cli.add_odd_arguments(parser)
    faults = parser.add_argument_group("fault injection (off unless --fault-rate > 0)")
    cli.add_fault_arguments(faults)
    faults.add_argument(
        "--fault-kinds",
        metavar="KIND,...",
        help=f"default: every kind but delete_sync; known: {','.join(KNOWN_FAULTS)}",
    )
    faults.add_argument("--fault-only-paths", metavar="REGEX", help="fault only matching paths")
    faults.add_argument("--fault-max-consecutive", type=int, metavar="N")
    faults.add_argument("--fault-slow-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.records_retention_days < 0:
        parser.error("--records-retention-days must be >= 0")
    args.group_ids = None if args.groups is None else [g.strip() for g in args.groups.split(",")]
    if args.group_ids is not None and (
        not all(args.group_ids) or len(set(args.group_ids)) != len(args.group_ids)
    ):
        parser.error(f"--groups needs unique, non-empty, comma-separated ids, not {args.groups!r}")
    try:
        args.fault_plan = _fault_plan(args)
        args.odd = cli.odd_values(args)
    except (ValueError, re.error) as exc:
        parser.error(str(exc))
    return args


def _fault_plan(args: argparse.Namespace) -> FaultPlan | None:
    """The plan the fault options describe, or None when the rate is 0."""
    if args.fault_rate == 0:
        return None
    return FaultPlan(
        seed=args.fault_seed,
        rate=args.fault_rate,
        kinds=ALL_FAULTS if args.fault_kinds is None else _kinds(args.fault_kinds),
        only_paths=args.fault_only_paths,
        max_consecutive=args.fault_max_consecutive,
        slow_seconds=args.fault_slow_seconds,
    )


def _kinds(text: str) -> list[str]:
    return [kind.strip() for kind in text.split(",") if kind.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Build the world, serve it until SIGTERM/SIGINT, and return the exit code."""
    args = _parse_args(argv)
    counts: tuple[int, ...] | None = None
    if args.runs_per_sync is not None or args.syncs is not None:
        runs = 1000 if args.runs_per_sync is None else args.runs_per_sync
        counts = (runs,) * (200 if args.syncs is None else args.syncs)
    began = time.perf_counter()
    world = World(seed=args.seed, sync_run_counts=counts, groups=args.group_ids, odd=args.odd)
    elapsed = time.perf_counter() - began
    plan: FaultPlan | None = args.fault_plan
    sim = CensusSimulator(
        world,
        token=args.token,
        latency=args.latency,
        faults=plan,
        personal_access_token=args.personal_access_token,
        v2_id_style=args.v2_id_style,
        records_retention_days=args.records_retention_days,
        host=args.host,
        port=args.port,
    )
    return cli.run(
        "census_simulator",
        sim,
        urls=lambda: [sim.base_url, sim.base_url_v2],
        stats=lambda: (
            f"{world.run_count} runs in {len(world.syncs)} syncs, generated in {elapsed:.1f} s, "
            f"max RSS {_max_rss_mib():.0f} MiB"
        ),
        plan=plan,
        odd_injected=None if args.odd is None else world.odd_injected,
    )


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main())
