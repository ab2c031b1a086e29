"""The health views, `report` and `check` executed on every engine that runs here: DuckDB,
PostgreSQL, SQLite and MariaDB (the last two through dlt's sqlalchemy destination), each view
compared row by row with the values computed by hand in tests/health_truth.py."""

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from census_simulator.v2 import as_v2
from files_com_simulator import FilesComSimulator
from files_com_simulator import World as FilesComWorld
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld
from pipelines.health_views import (
    ALL_SOURCES,
    CENSUS,
    FILES_COM,
    HIGHTOUCH,
    create_health_views,
    sources_seen_from,
)
from pipelines.report import read_health
from tests.conftest import PERSONAL_TOKEN, TOKEN, source_for, source_v2_for
from tests.engines import ENGINES, MYSQL_DSN, Engine, engine_fixture, server_dsn
from tests.files_com.conftest import API_KEY as FILES_COM_KEY
from tests.files_com.conftest import source_for as files_com_for
from tests.health_truth import (
    assert_rows_equal,
    expected_daily,
    expected_errors,
    expected_health,
    files_com_as_common,
    files_com_syncs_as_common,
    hightouch_as_common,
    hightouch_syncs_as_common,
    recent_world,
    view_rows,
)
from tests.hightouch.conftest import TOKEN as HIGHTOUCH_TOKEN
from tests.hightouch.conftest import source_for as hightouch_for
from tests.test_health_views import NOW, add, assert_views_match, crafted_world, load
from tests.test_multi_source import DATASETS, load_all
from tests.test_multi_source import expected_health as expected_sources

GROUPS = ("north_wind", "south_sea")


@pytest.fixture(params=ENGINES)
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    yield from engine_fixture(request.param, tmp_path, monkeypatch)


def test_edge_cases_match_the_hand_computed_values(engine: Engine) -> None:
    """No runs, only open runs, a streak, window edges, midnight, ties; session far from UTC."""
    world = crafted_world()
    pipeline = engine.make("edges")
    load(world, pipeline)

    create_health_views(pipeline, now=NOW)

    assert_views_match(pipeline, world, NOW, setup=engine.far_from_utc)
    assert_views_match(pipeline, world, NOW)


def test_full_and_incremental_loads_match_ground_truth(engine: Engine) -> None:
    world = World(seed=11, sync_run_counts=(0, 1, 99, 100, 101, 260))
    pipeline = engine.make("incremental")
    load(world, pipeline, advance=True)

    create_health_views(pipeline, now=world.now)

    assert_views_match(pipeline, world, world.now, setup=engine.far_from_utc)
    health = view_rows(pipeline, "sync_health")
    assert any(r["failure_rate_30d"] for r in health)  # the comparison covers real values
    assert any(r["p95_duration_s"] for r in health)


def test_windows_are_exact_hours_across_a_daylight_saving_change(engine: Engine) -> None:
    """7 days before 2024-03-12 12:00 UTC is 168 hours, though New York's clocks moved on the
    10th: a calendar-day interval in the session's zone would start the window an hour late."""
    now = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)
    world = World(seed=3, sync_run_counts=(0,))
    sync_id = world.syncs[0]["id"]
    add(world, sync_id, "failed", now - timedelta(hours=167, minutes=30))  # in the 7 days
    add(world, sync_id, "completed", now - timedelta(hours=168, minutes=30))  # out of them
    pipeline = engine.make("dst")
    load(world, pipeline)

    create_health_views(pipeline, now=now)

    new_york = engine.session_in("America/New_York")
    assert_views_match(pipeline, world, now, setup=new_york)
    (row,) = view_rows(pipeline, "sync_health", setup=new_york)
    assert (row["finished_runs_7d"], row["failed_runs_7d"], row["finished_runs_30d"]) == (1, 1, 2)


def test_views_without_a_fixed_now_use_the_engines_clock(engine: Engine) -> None:
    world = recent_world(seed=41, counts=(2, 30, 7))
    pipeline = engine.make("clock")
    load(world, pipeline)

    create_health_views(pipeline)

    rows = view_rows(pipeline, "sync_health", setup=engine.far_from_utc)
    expected = expected_health(world.ground_truth_runs(), world.ground_truth_syncs(), world.now)
    assert any(r["finished_runs_7d"] for r in rows)
    for row in rows:
        for column in ("finished_runs_7d", "failed_runs_7d", "finished_runs_30d"):
            assert row[column] == expected[("census", row["sync_id"])][column], column


def test_report_reads_the_same_on_every_engine(engine: Engine, tmp_path: Path) -> None:
    """What `report` and `check` read (the views' SQL run in place) equals DuckDB's reading."""
    world = recent_world(seed=43, counts=(3, 40, 0, 12))
    reference = dlt.pipeline(
        pipeline_name="reference",
        pipelines_dir=str(tmp_path / "reference"),
        destination=dlt.destinations.duckdb(str(tmp_path / "reference.duckdb")),
        dataset_name="census",
    )
    pipeline = engine.make("report")
    with CensusSimulator(world, token=TOKEN) as sim:
        for target in (reference, pipeline):
            target.run(source_for(sim))
    now = datetime.now(UTC)

    read = [
        read_health(p, now=now, sources=sources_seen_from("census")) for p in (reference, pipeline)
    ]

    assert_same_rows(read[1].syncs, read[0].syncs)
    assert_same_rows(read[1].daily, read[0].daily)
    assert read[1].errors == read[0].errors and read[0].errors
    only = read_health(pipeline, sync_ids=[str(world.syncs[1]["id"])], now=now, source="census",
                       sources=sources_seen_from("census"))  # fmt: skip
    assert [row["sync_id"] for row in only.syncs] == [str(world.syncs[1]["id"])]


def report_syncs(text: str) -> list[str]:
    """The sync rows of the terminal report (after the header and its rule)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---")) + 1
    return [line for line in lines[start:] if line.split(" ")[0] in ALL_SOURCES]


def assert_same_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Same rows in the same order; floating columns equal to 12 significant digits (engines
    interpolate percentiles in exact decimals or in doubles)."""
    assert len(actual) == len(expected) > 0
    for got, row in zip(actual, expected, strict=True):
        assert set(got) == set(row)
        for column, value in row.items():
            if isinstance(value, float):
                assert math.isclose(got[column], value, rel_tol=1e-12), column
            else:
                assert got[column] == value, column


def test_hightouch_and_files_com_views_match_their_truth(engine: Engine) -> None:
    """Each source's views, row by row, after a full and an incremental load."""
    hightouch_world = HightouchWorld(seed=5, sync_run_counts=(0, 4, 30, 120))
    files_com_world = FilesComWorld(seed=5, sync_run_counts=(5, 25, 90))
    hightouch, files_com = engine.make("hightouch"), engine.make("files_com")
    with HightouchSimulator(hightouch_world, token=HIGHTOUCH_TOKEN) as sim:
        hightouch.run(hightouch_for(sim))
        hightouch_world.advance(seconds=3600, new_runs_per_sync=2)
        hightouch.run(hightouch_for(sim))
    with FilesComSimulator(files_com_world, api_key=FILES_COM_KEY) as sim:
        files_com.run(files_com_for(sim))
        files_com_world.advance(seconds=3600, new_runs_per_sync=2)
        files_com.run(files_com_for(sim))
    cases = [
        (
            hightouch,
            HIGHTOUCH,
            hightouch_world.now,
            hightouch_as_common(hightouch_world.ground_truth_runs()),
            hightouch_syncs_as_common(hightouch_world.ground_truth_syncs()),
        ),
        (
            files_com,
            FILES_COM,
            files_com_world.now,
            files_com_as_common(files_com_world.ground_truth_runs()),
            files_com_syncs_as_common(files_com_world.ground_truth_runs()),
        ),
    ]
    for pipeline, source, now, runs, syncs in cases:
        create_health_views(pipeline, sources=(source,), now=now)

        health = view_rows(pipeline, "sync_health", setup=engine.far_from_utc)
        expected = expected_health(runs, syncs, now, source.name)
        assert any(row["failed_runs_30d"] for row in expected.values()), source.name
        assert_rows_equal({(r["source"], r["sync_id"]): r for r in health}, expected)
        daily = view_rows(pipeline, "sync_run_daily", setup=engine.far_from_utc)
        keyed = {(r["source"], r["sync_id"], r["day"]): r for r in daily}
        assert len(keyed) == len(daily)
        assert_rows_equal(keyed, expected_daily(runs, source.name))
        errors = view_rows(pipeline, "sync_run_errors", setup=engine.far_from_utc)
        assert errors == expected_errors(runs, syncs, source.name) and errors


def test_v1_and_v2_datasets_with_groups_read_as_one(engine: Engine) -> None:
    """Census v1 (bigint ids) in one dataset, v2 with opaque text ids and two groups in
    another: what `report` reads (and the views, where an engine lets a view read another
    dataset) holds both, each exactly as its ground truth."""
    v1_world = recent_world(seed=21, counts=(5, 30, 0, 12))
    v2_world = recent_world(seed=22, counts=(3, 20, 7, 15), groups=GROUPS)
    v1, v2 = engine.make("census_v1"), engine.make("census_v2")
    with CensusSimulator(v1_world, token=TOKEN) as sim:
        v1.run(source_for(sim))
    with CensusSimulator(
        v2_world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_id_style="opaque"
    ) as sim:
        v2.run(source_v2_for(sim, group_ids=list(GROUPS)))
    both = (CENSUS, replace(CENSUS, name="census_v2", dataset=v2.dataset_name))
    v2_runs = [
        as_v2(r, "opaque", v2_world.group_of(r["sync_id"])) for r in v2_world.ground_truth_runs()
    ]
    v2_syncs = [
        as_v2(s, "opaque", v2_world.group_of(s["id"])) for s in v2_world.ground_truth_syncs()
    ]
    truth = {
        "census": (v1_world.ground_truth_runs(), v1_world.ground_truth_syncs()),
        "census_v2": (v2_runs, v2_syncs),
    }
    assert {r["group_id"] for r in v2_runs} == set(GROUPS)
    now = datetime.now(UTC)  # the engine's clock when it reads, give or take the test's pace
    expected = {
        key: row
        for source, (runs, syncs) in truth.items()
        for key, row in expected_health(runs, syncs, now, source).items()
    }
    errors = [
        e for source, (runs, syncs) in truth.items() for e in expected_errors(runs, syncs, source)
    ]
    errors.sort(key=lambda e: (e["created_at"], len(e["run_id"]), e["run_id"]), reverse=True)

    read = read_health(v1, now=now, sources=both)

    assert_rows_equal({(r["source"], r["sync_id"]): r for r in read.syncs}, expected)
    assert read.errors == errors[: len(read.errors)] and len(read.errors) == min(50, len(errors))
    if engine.name != "sqlite":  # a SQLite view reads only its own dataset (README)
        create_health_views(v1, sources=both)
        health = view_rows(v1, "sync_health", setup=engine.far_from_utc)
        assert_rows_equal({(r["source"], r["sync_id"]): r for r in health}, expected)


# --- the CLI on SQLite and MariaDB: three sources loaded, each dataset's views show all three


def _cli_destination(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "sqlite":  # the CLI loads SQLite with one worker by itself
        url = f"sqlite:///{tmp_path / 'all.db'}"
    else:
        url = server_dsn("SYNCRUNS_TEST_MYSQL_DSN", MYSQL_DSN, ".ci/mariadb.sh")
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", url)


@pytest.fixture
def mariadb_default_datasets() -> Iterator[None]:
    """The three default datasets (and staging) dropped from the MariaDB server around a test."""

    def drop() -> None:
        if not MYSQL_DSN:
            return
        server = dlt.pipeline("dropper", destination=dlt.destinations.sqlalchemy(MYSQL_DSN))
        with server.sql_client() as client:
            for dataset in DATASETS:
                for name in (dataset, f"{dataset}_staging"):
                    client.execute_sql(f"DROP DATABASE IF EXISTS `{name}`")

    drop()
    yield
    drop()


@pytest.mark.parametrize("name", ["sqlite", "mariadb"])
def test_cli_run_report_and_check_on_sqlalchemy_engines(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mariadb_default_datasets: None
) -> None:
    _cli_destination(name, tmp_path, monkeypatch)
    where = ("--destination", "sqlalchemy")
    expected = expected_sources(load_all(tmp_path, where))

    for dataset in DATASETS:
        pipeline = dlt.pipeline(
            pipeline_name=f"reader_{dataset}",
            pipelines_dir=str(tmp_path / "readers"),
            destination="sqlalchemy",
            dataset_name=dataset,
        )
        rows = view_rows(pipeline, "sync_health")
        shown = {
            (r["source"], r["sync_id"], r["runs"], r["last_run_status"], r["consecutive_failures"])
            for r in rows
            if r["runs"] > 0
        }
        # a SQLite view reads only its own database: each dataset's views show its own source
        own = {row for row in expected if row[0] == dataset}
        assert shown == (own if name == "sqlite" else expected), dataset
    assert {row[0] for row in expected} == set(ALL_SOURCES)

    from tests.test_multi_source import syncruns

    report = syncruns("report", *where, cwd=tmp_path, env_key="UNUSED", where=())
    assert report.returncode == 0, report.stderr
    for source in ALL_SOURCES:
        assert f"\n{source} " in report.stdout
    check = syncruns("check", *where, "--json", cwd=tmp_path, env_key="UNUSED", where=())
    verdict = json.loads(check.stdout)
    assert check.returncode == (0 if verdict["healthy"] else 6), check.stderr
    assert verdict["syncs_checked"] == len(report_syncs(report.stdout))
    failing = {(u["source"], u["sync_id"]) for u in verdict["unhealthy"]}
    assert failing == {(row[0], row[1]) for row in expected if row[4] > 0}  # streak > 0
    html = syncruns("report", *where, "--html", "health.html", cwd=tmp_path, env_key="UNUSED",
                    where=())  # fmt: skip
    assert html.returncode == 0, html.stderr
    assert "<svg" in (tmp_path / "health.html").read_text(encoding="utf-8")
