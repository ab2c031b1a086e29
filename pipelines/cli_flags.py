"""Which flags each `syncruns` command takes, and messages in the words the user typed.

A flag a command does not use is refused by the parser (argparse's one line, exit 2), never
accepted in silence: `report` and `check` only read the destination, so API flags do not apply.
"""

import argparse
import re
from typing import NoReturn

from pipelines.destinations import DEFAULT_DUCKDB_MEMORY_LIMIT

DEFAULT_SOURCE = "census"


class FlagParser(argparse.ArgumentParser):
    """argparse whose usage errors are one `syncruns: error:` line, like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"syncruns: error: {message} (see `{self.prog} --help`)\n")


def _general(sources: list[str]) -> FlagParser:
    group = FlagParser(add_help=False)
    group.add_argument(
        "--source",
        default=DEFAULT_SOURCE,
        choices=sources,
        help="which tool's sync runs (default census)",
    )
    group.add_argument(
        "--quiet", action="store_true", help="no progress lines (shown when a step runs > 5 s)"
    )
    group.add_argument("--debug", action="store_true", help="show tracebacks")
    return group


def _destination() -> FlagParser:
    group = FlagParser(add_help=False)
    group.add_argument("--destination", default="duckdb", help="dlt destination (default duckdb)")
    group.add_argument("--dataset", default=None, help="dataset/schema name (default: --source)")
    group.add_argument(
        "--pipeline-name", default=None, help="dlt pipeline name (default <source>_syncruns)"
    )
    group.add_argument(
        "--duckdb-path", default=None, help="DuckDB file (default <pipeline-name>.duckdb)"
    )
    group.add_argument(
        "--duckdb-memory-limit",
        default=DEFAULT_DUCKDB_MEMORY_LIMIT,
        help=f"DuckDB memory ceiling, default {DEFAULT_DUCKDB_MEMORY_LIMIT} (spills to disk)",
    )
    return group


def _selection() -> FlagParser:
    group = FlagParser(add_help=False)
    group.add_argument(
        "--sync-id", action="append", dest="sync_ids", help="only this sync (repeatable)"
    )
    return group


def _api_version() -> FlagParser:
    group = FlagParser(add_help=False)
    group.add_argument(
        "--api-version",
        default=None,
        help="Census API v1 (workspace token) or v2 (personal token)",
    )
    return group


def _connection() -> FlagParser:
    group = FlagParser(add_help=False)
    group.add_argument("--base-url", default=None, help="API root (overrides --region)")
    group.add_argument("--region", default=None, help="us or eu (Census)")
    group.add_argument(
        "--group-id",
        action="append",
        default=None,
        help="API v2: only this group (workspace); repeat for more",
    )
    return group


def _records() -> FlagParser:
    group = FlagParser(add_help=False)
    group.add_argument(
        "--records",
        action="store_true",
        default=None,
        help="also load rejected/invalid records of finished runs (sync_run_records)",
    )
    return group


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def _locking() -> FlagParser:
    group = FlagParser(add_help=False)
    group.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="if another command is loading this pipeline, wait up to SECONDS for it (default 0)",
    )
    return group


def command_flags(sources: list[str]) -> dict[str, FlagParser]:
    """The shared flags of each command, as one parent parser per command."""
    general, destination, selection = _general(sources), _destination(), _selection()
    api_version, connection, records = _api_version(), _connection(), _records()
    locking = _locking()
    loads = [general, destination, selection, api_version, connection, records, locking]
    groups = {
        "run": loads,
        "backfill": loads,
        # the demo's simulator sets the API root, region and groups itself
        "demo": [general, destination, selection, api_version, records, locking],
        "report": [general, destination, selection],
        "check": [general, destination, selection],
        "doctor": [general, destination, selection, api_version, connection],
    }
    return {name: FlagParser(add_help=False, parents=parents) for name, parents in groups.items()}


# setting name in messages -> (attribute of the parsed flags, flag)
FLAG_OF_SETTING = {
    "sync_ids": ("sync_ids", "--sync-id"),
    "start_date": ("start", "--start"),
    "end_date": ("end", "--end"),
    "backfill_batch_syncs": ("batch_syncs", "--batch-syncs"),
    "group_id": ("group_id", "--group-id"),
    "api_version": ("api_version", "--api-version"),
    "base_url": ("base_url", "--base-url"),
    "region": ("region", "--region"),
    "include_records": ("records", "--records"),
}
# a key in full (`sources.census.region`), or bare when it cannot be a plain word (`start_date`)
_SETTING = re.compile(
    r"(?<![\w.-])(?:sources\.[a-z_]+\.(?P<key>"
    + "|".join(FLAG_OF_SETTING)
    + r")|(?P<bare>"
    + "|".join(key for key in FLAG_OF_SETTING if "_" in key)
    + r"))(?![\w.-])"
)
_ALTERNATIVES = re.compile(r"(--[a-z-]+) \(or ([^)]*)\)")


def in_flag_words(message: str, args: argparse.Namespace) -> str:
    """`message` with each setting the user gave as a flag named by that flag.

    The sources name their config keys (`sources.census.sync_ids`, `start_date`); after
    `--sync-id 99` the user should read `--sync-id`. Settings not given as flags keep their key.
    """

    def flag(match: re.Match[str]) -> str:
        attribute, flag_name = FLAG_OF_SETTING[match.group("key") or match.group("bare")]
        return match.group(0) if getattr(args, attribute, None) is None else flag_name

    def without_repeats(match: re.Match[str]) -> str:  # "--group-id (or --group-id)"
        others = [item for item in match.group(2).split(" / ") if item != match.group(1)]
        return f"{match.group(1)} (or {' / '.join(others)})" if others else match.group(1)

    worded = _ALTERNATIVES.sub(without_repeats, _SETTING.sub(flag, message))
    return re.sub(r"(--[a-z-]+) = ", r"\1 ", worded)  # "set --api-version v1"


def refuse_extra_flags(parser: FlagParser, command: str, extras: list[str]) -> NoReturn:
    """One line naming the flags `command` does not take (argparse names no command)."""
    named = [extra.split("=", 1)[0] for extra in extras if extra.startswith("-")]
    what = (
        f"{command} does not take {', '.join(named)}"
        if named
        else (f"unrecognized arguments: {' '.join(extras)}")
    )
    parser.exit(2, f"syncruns: error: {what} (see `syncruns {command} --help`)\n")
