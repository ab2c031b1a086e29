"""`syncruns`: load sync-run history (Census, Hightouch, Files.com) with dlt.

Commands: scheduled run, backfill, demo, report, check, doctor; `--source` picks the source.

Exit codes: 0 ok, 2 bad input or config, 3 authentication, 4 API unreachable after retries,
5 partial load (some syncs failed after retries, the rest loaded), 6 unhealthy (`check`),
1 anything else.
Failures print one line; `--debug` adds the traceback.
"""

import argparse
import gc
import os
import select
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.runtime.collector import NULL_COLLECTOR
from dlt.common.runtime.collector_base import Collector

from pipelines.append_note import append_fallback_note
from pipelines.cli_flags import (
    DEFAULT_SOURCE,
    FlagParser,
    command_flags,
    in_flag_words,
    refuse_extra_flags,
)
from pipelines.destinations import checked_destination, duckdb_destination
from pipelines.doctor import add_doctor_command, command_doctor
from pipelines.exit_codes import ExitCode, classify
from pipelines.health_cli import (
    add_health_commands,
    command_check,
    command_report,
    refuse_unreadable,
)
from pipelines.health_views import drop_health_views, health_views_exist, refresh_health_views
from pipelines.interrupts import Interrupts, interruption
from pipelines.names import checked_name, stored_dataset_name
from pipelines.ownership import refuse_foreign_state
from pipelines.progress import LongWorkProgress
from pipelines.quiet_logs import quiet_dlt_warnings
from pipelines.recovery import finish_interrupted_load
from pipelines.run_lock import PipelineBusyError, pipeline_lock
from pipelines.sources import SOURCES, SourceSpec, UsageError, duckdb_file
from pipelines.summary import (
    RunSummary,
    combined,
    count_runs,
    pending_load_ids,
    render,
    summarize,
)

PIPELINE_NAME = SOURCES[DEFAULT_SOURCE].pipeline_name  # census_syncruns
DATASET_NAME = SOURCES[DEFAULT_SOURCE].dataset  # census
READS_ONLY = ("report", "check")
WRITES = ("run", "backfill", "demo")


def build_parser() -> FlagParser:
    """The `syncruns` argument parser; each command takes only the flags it uses."""
    flags = command_flags(sorted(SOURCES))
    parser = FlagParser(
        prog="syncruns",
        description="Load the sync-run history of Census, Hightouch or Files.com with dlt.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", parents=[flags["run"]], help="scheduled incremental run")
    backfill = commands.add_parser(
        "backfill",
        parents=[flags["backfill"]],
        help="load the runs created in a window; cursors untouched",
    )
    backfill.add_argument("--start", required=True, help="window start (ISO date/time, UTC)")
    backfill.add_argument("--end", default=None, help="window end, exclusive (default: now)")
    backfill.add_argument(
        "--batch-syncs",
        type=int,
        default=25,
        help="syncs per load (a checkpoint per batch; default 25)",
    )
    demo = commands.add_parser(
        "demo", parents=[flags["demo"]], help="simulator -> local DuckDB, then print a summary"
    )
    demo.add_argument("--seed", type=int, default=7, help="simulated workspace seed")
    add_health_commands(commands, flags["report"])
    add_doctor_command(commands, flags["doctor"])
    return parser


def make_pipeline(args: argparse.Namespace, pipeline_name: str) -> dlt.Pipeline:
    """The dlt pipeline for the chosen destination and dataset."""
    checked_name("--pipeline-name", pipeline_name, "name")
    destination: Any = args.destination
    if args.destination == "duckdb":
        path = duckdb_file(args.duckdb_path, pipeline_name, args.dataset)
        if args.command in READS_ONLY or args.command == "demo":
            # dlt resolves a relative path against the folder of the pipeline's first run; these
            # commands mean the file here (run/backfill keep dlt's rule: it guards the cursors)
            path = path.resolve()
        reading = args.command in READS_ONLY  # report/check open the file read-only
        destination = duckdb_destination(path, args.duckdb_memory_limit, read_only=reading)
    elif args.duckdb_path:
        raise UsageError("--duckdb-path applies only with --destination duckdb")
    else:
        destination = checked_destination(args.destination, args.dataset)
        if args.command in READS_ONLY:
            refuse_unreadable(args, destination)
    if args.command in WRITES:  # before dlt attaches the pipeline (and the demo drops it)
        refuse_foreign_state(
            pipeline_name,
            args.source,
            args.dataset,
            args.destination,
            source_only=args.command == "demo",  # the demo starts its pipeline afresh
        )
    progress: Collector = NULL_COLLECTOR if args.quiet else LongWorkProgress()
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destination,
        dataset_name=args.dataset,
        progress=progress,
    )


def one_writer_for_sqlite(pipeline: dlt.Pipeline) -> None:
    """SQLite locks the whole file per write: dlt's parallel load jobs would fail on each
    other ("database is locked") and retry. One load worker, unless the user chose a number."""
    destination = pipeline.destination
    if destination is None or destination.destination_type != "dlt.destinations.sqlalchemy":
        return
    chosen = "LOAD__WORKERS" in os.environ or dlt.config.get("load.workers") is not None
    if not chosen and pipeline.sql_client().capabilities.sqlglot_dialect == "sqlite":
        dlt.config["load.workers"] = 1


def load(
    pipeline: dlt.Pipeline,
    source: Any,
    command: str,
    requests_made: Any = None,
    spec: SourceSpec = SOURCES[DEFAULT_SOURCE],
    refresh: Any = None,
) -> RunSummary:
    """Run the pipeline, refresh the health views, and summarize what it changed."""
    started = time.monotonic()
    before = 0 if refresh else count_runs(pipeline)
    leftover = pending_load_ids(pipeline)  # a killed run's packages: loaded by this command too
    finish_interrupted_load(pipeline)
    one_writer_for_sqlite(pipeline)
    info = pipeline.run(source, refresh=refresh)
    problem = refresh_health_views(pipeline, spec.name)
    if problem:
        print(f"syncruns: warning: {problem}", file=sys.stderr)
    elapsed = time.monotonic() - started
    requests = requests_made() if requests_made else None
    return summarize(
        pipeline,
        command,
        info,
        before,
        elapsed,
        requests,
        failed_statuses=spec.failed_statuses,
        earlier_load_ids=leftover,
    )


def health_views_exist_quietly(pipeline: dlt.Pipeline) -> bool:
    """Whether the dataset has health views; False where it cannot tell (no dataset yet...)."""
    try:
        return health_views_exist(pipeline)
    except Exception:  # a destination without SQL, or nothing created yet
        return False


def resolve_defaults(args: argparse.Namespace) -> SourceSpec:
    """The chosen source; fills in its default pipeline name and dataset."""
    spec = SOURCES[args.source]
    if args.pipeline_name is None:
        args.pipeline_name = spec.pipeline_name + ("_demo" if args.command == "demo" else "")
    args.dataset = spec.dataset if args.dataset is None else stored_dataset_name(args.dataset)
    return spec


def report(summary: RunSummary) -> ExitCode:
    """Print the summary; a partial load (some syncs failed or left) has its own exit code."""
    print(render(summary))
    return ExitCode.PARTIAL if summary.failed_syncs or summary.backfill_remaining else ExitCode.OK


def writing(command: Callable[[argparse.Namespace, SourceSpec], ExitCode]) -> Any:
    """A command that loads: one at a time per pipeline, dlt's append warnings said once."""

    def guarded(args: argparse.Namespace, spec: SourceSpec) -> ExitCode:
        with pipeline_lock(args.pipeline_name, args.command, args.wait), append_fallback_note():
            return command(args, spec)

    return guarded


@writing
def command_run(args: argparse.Namespace, spec: SourceSpec) -> ExitCode:
    """Incremental run: new and still-open runs of every sync."""
    options = spec.options(args)
    pipeline = make_pipeline(args, args.pipeline_name)
    return report(load(pipeline, spec.make(**options), "run", spec=spec))


@writing
def command_backfill(args: argparse.Namespace, spec: SourceSpec) -> ExitCode:
    """Load exactly the runs created in [start, end), a batch of syncs per load (Census).

    Each batch commits its data with the list of syncs done, so a killed backfill resumes
    where it stopped. Cursors stay as they are.
    """
    options = {**spec.options(args), "start_date": args.start, "end_date": args.end}
    if spec.supports_backfill_batches:
        options["backfill_batch_syncs"] = args.batch_syncs
    pipeline = make_pipeline(args, args.pipeline_name)
    summaries: list[RunSummary] = []
    while True:
        summary = load(pipeline, spec.make(**options), "backfill", spec=spec)
        summaries.append(summary)
        before = summaries[-2].backfill_remaining if len(summaries) > 1 else None
        stalled = summary.backfill_remaining == before
        if not summary.backfill_remaining or summary.failed_syncs or stalled:
            return report(combined(summaries))


@writing
def command_demo(args: argparse.Namespace, spec: SourceSpec) -> ExitCode:
    """Start the source's simulator, load it, advance time, load again, and summarize."""
    options = spec.options(args)
    pipeline = make_pipeline(args, args.pipeline_name)
    pipeline.drop()  # fresh local state (the cursors, and the folder dlt would resolve paths in)
    pipeline = make_pipeline(args, args.pipeline_name)
    db_file = Path(args.duckdb_path or f"{args.pipeline_name}.duckdb")
    v2 = str(args.api_version or "v1").strip().lower() == "v2"
    with spec.demo(args.seed, v2) as server:
        options.update(base_url=server.base_url, api_key=server.api_key)
        if health_views_exist_quietly(pipeline):
            drop_health_views(pipeline)  # PostgreSQL will not drop tables that views read
        # the demo starts from empty tables and fresh cursors; other datasets stay as they are
        first = load(
            pipeline,
            spec.make(**options),
            "demo (full load)",
            server.requests_made,
            spec,
            refresh="drop_sources",
        )
        print(render(first))
        server.advance(3600)
        second = load(
            pipeline,
            spec.make(**options),
            "demo (incremental, one simulated hour later)",
            server.requests_made,
            spec,
        )
        print()
        print(render(second))
    if args.destination == "duckdb":
        print(f"\nData: {db_file.resolve()} (dataset {args.dataset!r}); try:")
        print(
            f"  python -c \"import duckdb; print(duckdb.connect('{db_file}').sql("
            f"'select status, count(*) from {args.dataset}.sync_runs group by 1'))\""
        )
        source_flag = "" if spec.name == DEFAULT_SOURCE else f" --source {spec.name}"
        print(f"  syncruns report{source_flag} --duckdb-path {db_file} --dataset {args.dataset}")
    return ExitCode.OK


COMMANDS: dict[str, Callable[[argparse.Namespace, SourceSpec], ExitCode]] = {
    "run": command_run,
    "backfill": command_backfill,
    "demo": command_demo,
    "report": lambda args, spec: command_report(args, make_pipeline(args, args.pipeline_name)),
    "check": lambda args, spec: command_check(args, make_pipeline(args, args.pipeline_name)),
    "doctor": command_doctor,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `syncruns` console script; returns the exit code."""
    # Modules loaded so far live for the whole process: keeping them out of the garbage
    # collector's scans makes a large load ~15% faster (measured on 1M runs).
    gc.freeze()
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        refuse_extra_flags(parser, args.command, extras)
    interrupts = Interrupts(debug=args.debug)  # Ctrl-C/SIGTERM: one line, exit 130/143
    interrupts.install()
    if not args.debug:
        quiet_dlt_warnings()
    try:
        spec = resolve_defaults(args)
        code = int(COMMANDS[args.command](args, spec))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except UsageError as error:
        return _fail(args, error, ExitCode.BAD_INPUT, str(error))
    except PipelineBusyError as error:
        return _fail(args, error, ExitCode.BUSY, str(error))
    except KeyboardInterrupt as error:
        return interrupts.report(error)
    except BrokenPipeError as error:
        if not _stdout_closed():  # a socket, not the reader of our output
            return _fail(args, error, *classify(error, _duckdb_path(args)))
        # `syncruns report | head`: the reader has all it wanted; end quietly (README)
        _silence_stdout()
        return ExitCode.OK
    except Exception as error:
        if interruption(error) is not None:  # dlt wraps it in PipelineStepFailed
            return interrupts.report(error)
        code, message = classify(error, _duckdb_path(args))
        return _fail(args, error, code, message)
    finally:
        interrupts.uninstall()


def _duckdb_path(args: argparse.Namespace) -> str | None:
    """The DuckDB file the command used, as the user gave it (None: another destination)."""
    if getattr(args, "destination", "duckdb") != "duckdb":
        return None
    if getattr(args, "duckdb_path", None):
        return str(args.duckdb_path)
    name = getattr(args, "pipeline_name", None)
    return f"{name}.duckdb" if name else None


def _stdout_closed() -> bool:
    """Whether the reader of stdout has gone (a pipe whose other end is closed)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll(), or stdout has no descriptor
        return True


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass


def _fail(args: argparse.Namespace, error: BaseException, code: ExitCode, message: str) -> int:
    if args.debug:
        traceback.print_exception(error)
    print(f"syncruns: error: {in_flag_words(message, args)}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
