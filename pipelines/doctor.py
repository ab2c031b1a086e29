"""`syncruns doctor`: check settings, token, API and destination before the first load.

Prints a table of ✓ / ✗ (with the fix for each ✗), or with `--json` one JSON document; exits 0
when ready, else with the code of the first ✗ (2 bad input, 3 authentication, 4 unreachable,
1 anything else). Nothing is loaded and no pipeline state is changed.
"""

import argparse
import sys
from collections.abc import Callable
from typing import Any

from pipelines.cli_flags import FLAG_OF_SETTING
from pipelines.destinations import duckdb_destination
from pipelines.doctor_report import DoctorReport, can_print_symbols
from pipelines.exit_codes import ExitCode
from pipelines.names import checked_name
from pipelines.sources import SourceSpec, UsageError, duckdb_file

# the flag each setting of the command line came from, as the settings table names it
FLAGS = {
    setting: FLAG_OF_SETTING[setting][1]
    for setting in ("base_url", "region", "api_version", "group_id", "sync_ids")
}


def add_doctor_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `doctor` to the `syncruns` subcommands."""
    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="check settings, token, API and destination before the first load",
    )
    doctor.add_argument(
        "--json", action="store_true", help="print one JSON document (shape: see README)"
    )


def _census(**options: Any) -> DoctorReport:
    from census_source.doctor import diagnose

    return diagnose(**options)


def _hightouch(**options: Any) -> DoctorReport:
    from hightouch_source.doctor import diagnose

    return diagnose(**options)


def _files_com(**options: Any) -> DoctorReport:
    from files_com_source.doctor import diagnose

    return diagnose(**options)


DIAGNOSE: dict[str, Callable[..., DoctorReport]] = {
    "census": _census,
    "hightouch": _hightouch,
    "files_com": _files_com,
}


def command_doctor(args: argparse.Namespace, spec: SourceSpec) -> ExitCode:
    """Run the checks of the chosen source and print the report."""
    options = {key: value for key, value in spec.options(args).items() if key in FLAGS}
    flags = {key: FLAGS[key] for key in options}
    checked_name("--pipeline-name", args.pipeline_name, "name")  # --dataset: resolve_defaults
    report = DIAGNOSE[spec.name](
        **options,
        destination=_destination(args),
        dataset_name=args.dataset,
        pipeline_name=args.pipeline_name,
        flags={**flags, **_target_flags(args, spec)},
    )
    if args.json:
        print(report.to_json())
    else:
        print(report.render(ascii_only=not can_print_symbols(sys.stdout)))
    return report.exit_code


def _target_flags(args: argparse.Namespace, spec: SourceSpec) -> dict[str, str]:
    """The target settings that differ from the source's defaults, so came from a flag."""
    flags = {}
    if args.destination != "duckdb":
        flags["destination"] = "--destination"
    if args.dataset != spec.dataset:
        flags["dataset"] = "--dataset"
    if args.pipeline_name != spec.pipeline_name:
        flags["pipeline_name"] = "--pipeline-name"
    return flags


def _destination(args: argparse.Namespace) -> Any:
    """The destination `run` would load into (DuckDB: the file, resolved here)."""
    if args.destination != "duckdb":
        if args.duckdb_path:
            raise UsageError("--duckdb-path applies only with --destination duckdb")
        return args.destination
    path = duckdb_file(args.duckdb_path, args.pipeline_name, args.dataset)
    return duckdb_destination(path.resolve(), args.duckdb_memory_limit)
