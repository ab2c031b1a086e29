"""The `syncruns report` and `syncruns check` subcommands (parsers and commands)."""

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt

from pipelines.check import (
    WINDOWS,
    Thresholds,
    evaluate,
    parse_count,
    parse_duration,
    parse_rate,
    render_json,
    render_text,
)
from pipelines.exit_codes import ExitCode
from pipelines.health_views import (
    HealthViewsError,
    NoRunDataError,
    ViewsUnsupportedError,
    destination_reading_dialect,
    sources_seen_from,
)
from pipelines.report import HealthData, read_health, render_terminal
from pipelines.report_html import render_html


def add_health_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `report` and `check` to the `syncruns` subcommands (same common flags as `run`)."""
    report = commands.add_parser(
        "report", parents=[common], help="sync health from the loaded runs (table or --html)"
    )
    report.add_argument(
        "--html", metavar="FILE", default=None, help="write a self-contained HTML page with charts"
    )
    check = commands.add_parser(
        "check",
        parents=[common],
        help="exit 6 and list the syncs past a threshold (default: latest finished run failed)",
    )
    check.add_argument(
        "--max-failure-rate",
        type=parse_rate,
        default=None,
        metavar="R",
        help="failed / finished runs in --window above R (0.2 or 20%%) is unhealthy",
    )
    check.add_argument(
        "--max-consecutive-failures",
        type=parse_count,
        default=None,
        metavar="N",
        help="more than N failed runs since the last success is unhealthy",
    )
    check.add_argument(
        "--stale-after",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="no success for longer than this (24h, 2d, 30m) is unhealthy",
    )
    check.add_argument(
        "--window", choices=WINDOWS, default="7d", help="failure-rate window (default 7d)"
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")


def refuse_unreadable(args: argparse.Namespace, destination: Any) -> None:
    """Stop `report` / `check` on a destination they cannot read, before a pipeline exists."""
    try:
        destination_reading_dialect(destination, args.dataset)
    except ViewsUnsupportedError as error:  # in the words of the flag the user typed
        raise HealthViewsError(
            f"--destination {args.destination}: {error.detail}, so `syncruns {args.command}` "
            "cannot read it (README: Destinations lists the ones it can)"
        ) from None


def _read(args: argparse.Namespace, pipeline: dlt.Pipeline, now: datetime) -> HealthData:
    if args.destination == "duckdb":
        path = Path(args.duckdb_path or f"{args.pipeline_name}.duckdb")
        if not path.is_file():  # DuckDB would create an empty file
            raise NoRunDataError(
                f"No DuckDB file {str(path)!r}: run `syncruns run` first, "
                "or point --duckdb-path (or --pipeline-name) at your data"
            )
    # the views' SQL over every source loaded into the destination by now, run in place of
    # the views: nothing is written, so a file open read-only elsewhere (or on a read-only
    # mount) reads the same
    return read_health(
        pipeline,
        sync_ids=args.sync_ids,
        now=now,
        source=args.source,
        sources=sources_seen_from(args.source),
    )


def command_report(args: argparse.Namespace, pipeline: dlt.Pipeline) -> ExitCode:
    """Print the health table, or write it with charts to --html FILE."""
    target = Path(args.html) if args.html else None
    if target is not None and not target.parent.is_dir():
        raise HealthViewsError(f"--html folder {str(target.parent)!r} does not exist")
    data = _read(args, pipeline, datetime.now(UTC))
    if target is None:
        print(render_terminal(data))
        return ExitCode.OK
    target.write_text(render_html(data), encoding="utf-8")
    print(f"Wrote {target} ({len(data.syncs)} syncs, {len(data.errors)} latest errors)")
    return ExitCode.OK


def command_check(args: argparse.Namespace, pipeline: dlt.Pipeline) -> ExitCode:
    """Exit 0 when every sync is within the thresholds, ExitCode.UNHEALTHY otherwise."""
    now = datetime.now(UTC)
    thresholds = Thresholds(
        max_consecutive_failures=args.max_consecutive_failures,
        max_failure_rate=args.max_failure_rate,
        stale_after=args.stale_after,
        window=args.window,
    )
    verdict = evaluate(_read(args, pipeline, now).syncs, thresholds, now)
    print(render_json(verdict) if args.json else render_text(verdict))
    return ExitCode.OK if verdict.healthy else ExitCode.UNHEALTHY
