"""The SQL engines the views are executed on here: DuckDB, PostgreSQL, SQLite and MariaDB.

DuckDB and SQLite (through dlt's sqlalchemy destination) are files in the test's folder.
PostgreSQL and MariaDB are servers that `.ci/run` starts (`.ci/postgres.sh`, `.ci/mariadb.sh`)
and names in SYNCRUNS_TEST_POSTGRES_DSN and SYNCRUNS_TEST_MYSQL_DSN; without them the tests of
that engine skip, except under CI, where they fail.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pytest

ENGINES = ("duckdb", "postgres", "sqlite", "mariadb")
POSTGRES_DSN = os.environ.get("SYNCRUNS_TEST_POSTGRES_DSN")
MYSQL_DSN = os.environ.get("SYNCRUNS_TEST_MYSQL_DSN")
KIRITIMATI = "Pacific/Kiritimati"  # UTC+14: a UTC day and the session's day always differ


@dataclass(frozen=True)
class Engine:
    """One engine: how to make a pipeline on it, and how its session is set far from UTC."""

    name: str
    make: Callable[[str], dlt.Pipeline]
    far_from_utc: str | None  # SQL that sets the session's time zone; None: the engine has none

    def session_in(self, zone: str) -> str | None:
        """SQL that sets the session's time zone to `zone` (None where there is none)."""
        return None if self.far_from_utc is None else self.far_from_utc.replace(KIRITIMATI, zone)


def server_dsn(variable: str, value: str | None, script: str) -> str:
    if value:
        return value
    if os.environ.get("CI"):
        pytest.fail(f"{variable} is not set: .ci/run starts the server ({script})")
    pytest.skip(f"no server: set {variable} (see {script})")


def engine_fixture(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Pipelines on engine `name`, each in a fresh dataset, dropped afterwards."""
    made: list[dlt.Pipeline] = []
    destination: Any
    setup: str | None = f"SET TimeZone = '{KIRITIMATI}'"
    if name == "duckdb":
        destination = dlt.destinations.duckdb(str(tmp_path / "engine.duckdb"))
    elif name == "postgres":
        dsn = server_dsn("SYNCRUNS_TEST_POSTGRES_DSN", POSTGRES_DSN, ".ci/postgres.sh")
        destination = dlt.destinations.postgres(dsn)
    elif name == "sqlite":
        destination = dlt.destinations.sqlalchemy(f"sqlite:///{tmp_path / 'engine.db'}")
        setup = None
        monkeypatch.setenv("LOAD__WORKERS", "1")  # one writer: SQLite locks the file per write
    else:
        dsn = server_dsn("SYNCRUNS_TEST_MYSQL_DSN", MYSQL_DSN, ".ci/mariadb.sh")
        destination = dlt.destinations.sqlalchemy(dsn)
        setup = f"SET time_zone = '{KIRITIMATI}'"

    def make(pipeline_name: str) -> dlt.Pipeline:
        pipeline = dlt.pipeline(
            pipeline_name=pipeline_name,
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=destination,
            dataset_name=f"syncruns_test_{uuid.uuid4().hex[:10]}",
        )
        made.append(pipeline)
        return pipeline

    yield Engine(name, make, setup)
    if name in ("postgres", "mariadb"):
        for pipeline in made:
            drop_datasets(pipeline)


def drop_datasets(pipeline: dlt.Pipeline) -> None:
    """The pipeline's dataset and its staging dataset, gone from the server."""
    with pipeline.sql_client() as client:
        for dataset in (client.dataset_name, f"{client.dataset_name}_staging"):
            with client.with_alternative_dataset_name(dataset):
                if client.has_dataset():
                    client.drop_dataset()
