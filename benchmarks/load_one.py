"""One load in a fresh process: ``python -m benchmarks.load_one --tool ours|baseline|savvy ...``.

Loads into ``<workdir>/<tool>.duckdb`` with the dlt pipelines dir ``<workdir>/pipelines`` (so a
second call with the same workdir is an incremental run), then prints one JSON line: wall time
of ``pipeline.run`` (source construction, extract, normalize, load), rows normalized per table,
what the table holds afterwards, and the peak RSS of this process. ``savvy`` is the baseline
source as a user who knows dlt runs it: parallelized child requests, parquet loader files.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination import TLoaderFileFormat

from benchmarks.baseline_rest_api import baseline_source
from census_source import census_source
from pipelines.destinations import duckdb_destination

TOOLS = ("ours", "baseline", "savvy")
SAVVY_FORMAT: TLoaderFileFormat = "parquet"
DATASET = "census"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_one", description=__doc__)
    parser.add_argument("--tool", choices=TOOLS, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument(
        "--baseline-sequential",
        action="store_true",
        help="baseline without 'parallelized' child requests",
    )
    parser.add_argument(
        "--loader-file-format", default=None, help="loader_file_format (default: dlt's choice)"
    )
    return parser.parse_args(argv)


def _source(args: argparse.Namespace) -> Any:
    if args.tool == "ours":
        return census_source(api_key=args.token, base_url=args.base_url)
    if args.tool == "savvy":
        return baseline_source(args.base_url, args.token, parallelized=True)
    return baseline_source(args.base_url, args.token, parallelized=not args.baseline_sequential)


def _file_format(args: argparse.Namespace) -> TLoaderFileFormat | None:
    fixed = SAVVY_FORMAT if args.tool == "savvy" else None
    chosen: TLoaderFileFormat | None = args.loader_file_format or fixed
    return chosen


def _table_counts(pipeline: dlt.Pipeline) -> tuple[int, int]:
    """(runs in sync_runs, of which open) after the load."""
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT count(*), count(*) FILTER (WHERE coalesce(status, '') NOT IN "
            f"('completed', 'failed', 'skipped')) FROM {DATASET}.sync_runs"
        )
    assert rows is not None
    return int(rows[0][0]), int(rows[0][1])


def _step_seconds(trace: Any) -> dict[str, float]:
    """Seconds spent in each step of `pipeline.run` (report.STEPS picks the ones reported)."""
    if trace is None:
        return {}
    return {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in trace.steps
        if step.finished_at is not None
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run one load and print its measurements as JSON on stdout."""
    args = _parse_args(argv)
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / f"{args.tool}.duckdb"
    if args.tool == "ours":
        gc.freeze()  # as the syncruns CLI does at start-up
        destination = duckdb_destination(database)  # the CLI's DuckDB memory ceiling
    else:
        destination = dlt.destinations.duckdb(str(database))  # dlt's defaults, as a user writes
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{args.tool}",
        pipelines_dir=str(workdir / "pipelines"),
        destination=destination,
        dataset_name=DATASET,
    )
    file_format = _file_format(args)  # None is dlt's default, though its annotation omits it
    started = time.perf_counter()
    pipeline.run(_source(args), loader_file_format=file_format)  # type: ignore[arg-type]
    wall_s = time.perf_counter() - started
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace is not None else None
    row_counts = dict(normalize.row_counts) if normalize is not None else {}
    runs_in_table, open_in_table = _table_counts(pipeline)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "tool": args.tool,
        "wall_s": wall_s,
        "rows": row_counts,
        "runs_rows": int(row_counts.get("sync_runs", 0)),
        "runs_in_table": runs_in_table,
        "open_in_table": open_in_table,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "children_peak_rss_mib": children.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "steps_s": _step_seconds(trace),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
