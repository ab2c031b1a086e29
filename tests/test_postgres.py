"""PostgreSQL for real: the same world loaded into DuckDB and PostgreSQL, tables and views equal.

Needs a server: `.ci/run` starts one on 127.0.0.1 and exports SYNCRUNS_TEST_POSTGRES_DSN.
Without it the tests skip, except under CI, where they fail.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from pipelines.health_views import VIEW_NAMES, create_health_views
from tests.conftest import TOKEN, source_for
from tests.health_truth import assert_rows_equal, recent_world, view_rows
from tests.test_cli import syncruns
from tests.test_health_views import FAR_FROM_UTC, assert_views_match
from tests.truth import assert_matches_truth, query, table

DSN = os.environ.get("SYNCRUNS_TEST_POSTGRES_DSN")
# dlt's bookkeeping differs between two pipelines (random ids, load ids from the clock)
BOOKKEEPING = {"_dlt_id", "_dlt_load_id", "_dlt_parent_id", "_dlt_root_id"}
KEYS = {"sync_health": ("source", "sync_id"), "sync_run_daily": ("source", "sync_id", "day")}

Factory = Callable[[str], dlt.Pipeline]


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Factory]:
    """Pipelines on the test server, each in a fresh schema dropped afterwards."""
    if not DSN:
        if os.environ.get("CI"):
            pytest.fail("SYNCRUNS_TEST_POSTGRES_DSN is not set: .ci/run starts PostgreSQL")
        pytest.skip("no PostgreSQL: set SYNCRUNS_TEST_POSTGRES_DSN (see .ci/postgres.sh)")
    made: list[dlt.Pipeline] = []

    def make(name: str) -> dlt.Pipeline:
        pipeline = dlt.pipeline(
            pipeline_name=name,
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.postgres(DSN),
            dataset_name=f"syncruns_test_{uuid.uuid4().hex[:10]}",
        )
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        with pipeline.sql_client() as client:
            for dataset in (client.dataset_name, f"{client.dataset_name}_staging"):
                client.execute_sql(f"DROP SCHEMA IF EXISTS {dataset} CASCADE")


def data_columns(pipeline: dlt.Pipeline, name: str) -> list[str]:
    columns = pipeline.default_schema.get_table_columns(name)
    return sorted(column for column in columns if column not in BOOKKEEPING)


def contents(pipeline: dlt.Pipeline, name: str) -> list[tuple[Any, ...]]:
    """Every row of a table (data columns, sorted); child rows keyed by their parent's id."""
    columns = data_columns(pipeline, name)
    if name == "syncs__mappings":
        parent = table(pipeline, "syncs")
        select = ", ".join(f"m.{column}" for column in columns)
        sql = (
            f"SELECT p.id, {select} FROM {table(pipeline, name)} AS m "
            f"JOIN {parent} AS p ON m._dlt_parent_id = p._dlt_id"
        )
    else:
        sql = f"SELECT {', '.join(columns)} FROM {table(pipeline, name)}"
    return sorted(query(pipeline, sql), key=repr)


def assert_same_tables(duck: dlt.Pipeline, pg: dlt.Pipeline) -> None:
    names = sorted(duck.default_schema.data_table_names())
    assert names == sorted(pg.default_schema.data_table_names())
    assert {"syncs", "syncs__mappings", "sync_runs", "sync_runs__sync_trigger_reason"} <= set(names)
    for name in names:
        assert data_columns(duck, name) == data_columns(pg, name), name
        duck_rows, pg_rows = contents(duck, name), contents(pg, name)
        assert len(duck_rows) == len(pg_rows) > 0, name
        assert duck_rows == pg_rows, name


def assert_same_views(duck: dlt.Pipeline, pg: dlt.Pipeline) -> None:
    for view in VIEW_NAMES:
        duck_rows, pg_rows = view_rows(duck, view), view_rows(pg, view)
        assert duck_rows, view
        if view in KEYS:
            keyed = [
                {tuple(r[k] for k in KEYS[view]): r for r in rows} for rows in (duck_rows, pg_rows)
            ]
            assert_rows_equal(keyed[1], keyed[0])
        else:
            assert pg_rows == duck_rows, view  # exact, same order (newest first)


def test_full_and_incremental_loads_equal_duckdb_and_truth(
    world: World, postgres: Factory, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    duck, pg = make_pipeline("to_duckdb"), postgres("to_postgres")
    with CensusSimulator(world, token=TOKEN) as sim:
        for pipeline in (duck, pg):
            pipeline.run(source_for(sim))
            create_health_views(pipeline, now=world.now)
        assert_same_tables(duck, pg)
        assert_same_views(duck, pg)

        sync_id = world.syncs[2]["id"]
        world.advance(seconds=7200, new_runs_per_sync=3, add_syncs=1)
        # a field the docs don't list: a new column under the views (ALTER TABLE on PostgreSQL)
        world.add_run(sync_id, status="failed", created_at=world.now, first_seen_field=2.5)
        for pipeline in (duck, pg):
            pipeline.run(source_for(sim))
            create_health_views(pipeline, now=world.now)

    assert "first_seen_field" in data_columns(pg, "sync_runs")
    assert_same_tables(duck, pg)
    assert_same_views(duck, pg)
    truth = world.ground_truth_runs()
    assert_matches_truth(pg, truth)
    assert_views_match(pg, world, world.now, setup=FAR_FROM_UTC)  # PostgreSQL knows TimeZone too


def test_cli_run_and_check_on_postgres(
    tmp_path: Path, postgres: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`syncruns run --destination postgres` creates the views; `check` reads them."""
    reader = postgres("cli_reader")  # owns the dataset the CLI loads (dropped afterwards)
    dataset = reader.dataset_name
    world = recent_world(seed=41, counts=(2, 30))
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", str(DSN))
    common = ("--destination", "postgres", "--dataset", dataset, "--quiet")
    with CensusSimulator(world, token=TOKEN) as sim:
        loaded = syncruns("run", *common, "--base-url", sim.base_url, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr

    checked = syncruns("check", *common, "--max-consecutive-failures", "1000", cwd=tmp_path)

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "syncruns check: healthy (2 syncs checked)\n"
    with reader.sql_client() as client:
        names = client.execute_sql(
            "SELECT table_name FROM information_schema.views WHERE table_schema = %s", dataset
        )
    assert sorted(row[0] for row in names or []) == sorted(VIEW_NAMES)
    counts = query(reader, f"SELECT COUNT(*) FROM {table(reader, 'sync_runs')}")
    assert counts[0][0] == len(world.ground_truth_runs())
