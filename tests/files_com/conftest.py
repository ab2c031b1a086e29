"""Fixtures: a seeded Files.com simulator on 127.0.0.1 and pipelines on temporary DuckDB files.

The names shadow the Census fixtures of tests/conftest.py inside this folder; the retry
settings set there (2 attempts, no backoff) apply here too.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from files_com_simulator import FilesComSimulator, World

API_KEY = "fcsimkey0c4e8a9b71d2"
FORBIDDEN_KEY = "fcsimreadonly55e0"

for _name in list(os.environ):
    if _name.startswith("SOURCES__FILES_COM__"):
        os.environ.pop(_name)


@pytest.fixture
def world() -> World:
    """The default seeded site: 7 syncs, ~2,300 runs, open runs new and stuck."""
    return World(seed=11)


@pytest.fixture
def simulator(world: World) -> Iterator[FilesComSimulator]:
    """The simulator serving `world` over real HTTP on loopback."""
    with FilesComSimulator(world, api_key=API_KEY, forbidden_keys=[FORBIDDEN_KEY]) as sim:
        yield sim


@pytest.fixture
def pipeline(tmp_path: Path) -> dlt.Pipeline:
    """A fresh pipeline whose state and DuckDB file live in this test's temp folder."""
    return dlt.pipeline(
        pipeline_name="files_com_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "files_com_test.duckdb")),
        dataset_name="files_com",
    )


def source_for(sim: FilesComSimulator, **options: Any) -> Any:
    """files_com_source pointed at the simulator with the accepted key."""
    from files_com_source import files_com_source

    options.setdefault("api_key", API_KEY)
    options.setdefault("base_url", sim.base_url)
    return files_com_source(**options)
