"""The filesystem destination (local bucket, parquet): contents read back and compared exactly.

dlt's filesystem destination cannot merge plain parquet files: it appends (with a warning), so a
re-read run has one row per load that carried it, and readers take the newest `_dlt_load_id` per
id. The health views need a SQL destination; `report` and `check` read the files directly.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from census_simulator import CensusSimulator, World
from pipelines.health_views import (
    ViewsUnsupportedError,
    create_health_views,
    refresh_health_views,
    sources_seen_from,
)
from pipelines.report import read_health
from tests.conftest import TOKEN, source_for
from tests.health_truth import (
    assert_rows_equal,
    expected_daily,
    expected_errors,
    expected_health,
    recent_world,
)
from tests.test_cli import syncruns
from tests.truth import RUN_FIELDS, expected_reasons, expected_runs


def read_table(bucket: Path, dataset: str, name: str) -> list[dict[str, Any]]:
    """Every row of every parquet file of a table."""
    files = sorted((bucket / dataset / name).glob("*.parquet"))
    assert files, f"no parquet files for {name}"
    combined = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    rows: list[dict[str, Any]] = combined.to_pylist()
    return rows


def newest(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """The row of each key from the latest load (what a merge would have kept)."""
    latest: dict[Any, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["_dlt_load_id"]):
        latest[row[key]] = row
    return latest


def runs_as_loaded(rows: dict[Any, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {rid: {f: row.get(f) for f in RUN_FIELDS} for rid, row in rows.items()}


def reasons_as_loaded(rows: dict[Any, dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (r["sync_run_id"], r["ui_tag"], r["ui_detail"]) for r in rows.values() if not r["_deleted"]
    }


def test_full_and_incremental_load_to_parquet_files(world: World, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    pipeline = dlt.pipeline(
        pipeline_name="to_files",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.filesystem(bucket.as_uri()),
        dataset_name="census_files",
    )
    with CensusSimulator(world, token=TOKEN) as sim:
        pipeline.run(source_for(sim), loader_file_format="parquet")
        first = read_table(bucket, "census_files", "sync_runs")
        truth = world.ground_truth_runs()
        assert len(first) == len(truth)  # one row per run
        assert runs_as_loaded({r["id"]: r for r in first}) == expected_runs(truth)

        report = world.advance(seconds=7200, new_runs_per_sync=3, add_syncs=1)
        pipeline.run(source_for(sim), loader_file_format="parquet")

    truth = world.ground_truth_runs()
    rows = read_table(bucket, "census_files", "sync_runs")
    assert runs_as_loaded(newest(rows, "id")) == expected_runs(truth)
    second = [r for r in rows if r["_dlt_load_id"] != first[0]["_dlt_load_id"]]
    assert len(rows) == len(first) + len(second)
    changed = set(report.new_run_ids) | set(report.finished_run_ids)
    assert changed <= {r["id"] for r in second}  # appended, every new and finished run
    assert len(second) == len({r["id"] for r in second})  # once each
    reasons = read_table(bucket, "census_files", "sync_runs__sync_trigger_reason")
    assert reasons_as_loaded(newest(reasons, "sync_run_id")) == expected_reasons(truth)
    syncs = newest(read_table(bucket, "census_files", "syncs"), "id")
    assert sorted(syncs) == [s["id"] for s in world.ground_truth_syncs()]

    with pytest.raises(ViewsUnsupportedError, match="report` and `syncruns check` read the loaded"):
        create_health_views(pipeline)
    assert refresh_health_views(pipeline) is None  # the CLI's hook skips it quietly


def test_cli_loads_to_filesystem_or_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(seed=8, sync_run_counts=(3, 40))
    with CensusSimulator(world, token=TOKEN) as sim:
        args = ("run", "--destination", "filesystem", "--base-url", sim.base_url, "--quiet")
        missing = syncruns(*args, cwd=tmp_path)
        assert missing.returncode == 2
        assert "set destination.filesystem.bucket_url" in missing.stderr
        assert "env DESTINATION__FILESYSTEM__BUCKET_URL" in missing.stderr

        monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "bucket").as_uri())
        loaded = syncruns(*args, cwd=tmp_path)

    assert loaded.returncode == 0, loaded.stderr
    assert "health views" not in loaded.stderr
    rows = read_table(tmp_path / "bucket", "census", "sync_runs")
    assert runs_as_loaded({r["id"]: r for r in rows}) == expected_runs(world.ground_truth_runs())
    report = syncruns("report", "--destination", "filesystem", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("Sync health, dataset 'census' on filesystem")
    checked = syncruns("check", "--destination", "filesystem", "--json", cwd=tmp_path)
    verdict = json.loads(checked.stdout)
    assert verdict["syncs_checked"] == len(world.syncs)
    assert checked.returncode == (0 if verdict["healthy"] else 6), checked.stderr


def test_report_reads_the_newest_version_of_each_appended_run(tmp_path: Path) -> None:
    """On a bucket, a run re-read by a later load is in the files twice: the report's SQL (run
    by dlt's DuckDB over the files) reads each run's newest version, equal to ground truth."""
    world = recent_world(seed=44, counts=(3, 40, 12))
    pipeline = dlt.pipeline(
        pipeline_name="census_bucket",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.filesystem((tmp_path / "bucket").as_uri()),
        dataset_name="census",
    )
    with CensusSimulator(world, token=TOKEN) as sim:
        pipeline.run(source_for(sim), loader_file_format="parquet")
        changed = world.advance(seconds=600, new_runs_per_sync=2)
        pipeline.run(source_for(sim), loader_file_format="parquet")
    rows = read_table(tmp_path / "bucket", "census", "sync_runs")
    assert changed.finished_run_ids and len(rows) > len(world.ground_truth_runs())  # versions
    now = datetime.now(UTC)

    data = read_health(pipeline, now=now, sources=sources_seen_from("census"))

    runs, syncs = world.ground_truth_runs(), world.ground_truth_syncs()
    health = {(r["source"], r["sync_id"]): r for r in data.syncs}
    assert_rows_equal(health, expected_health(runs, syncs, now))
    daily = {(r["source"], r["sync_id"], r["day"]): r for r in data.daily}
    assert_rows_equal(daily, expected_daily(runs))
    assert data.errors == expected_errors(runs, syncs)[: len(data.errors)] and data.errors
