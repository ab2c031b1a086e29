"""Fixtures: a seeded simulator on 127.0.0.1 and dlt pipelines on temporary DuckDB files."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World

TOKEN = "sim-token-3f9a1c77e2"
PERSONAL_TOKEN = "sim-pat-8d2e44b0c1"  # what API v2 takes

# Fast retries: the suite exercises failures, not patience.
os.environ.setdefault("RUNTIME__REQUEST_BACKOFF_FACTOR", "0")
os.environ.setdefault("RUNTIME__REQUEST_MAX_ATTEMPTS", "2")
os.environ.pop("SOURCES__CENSUS__API_KEY", None)


@pytest.fixture
def world() -> World:
    """The default seeded workspace (syncs with 0, 1, 99, 100, 101, 2500, ... runs)."""
    return World(seed=11)


@pytest.fixture
def simulator(world: World) -> Iterator[CensusSimulator]:
    """The simulator serving `world` over real HTTP on loopback."""
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        yield sim


PipelineFactory = Callable[..., dlt.Pipeline]


@pytest.fixture
def make_pipeline(tmp_path: Path) -> PipelineFactory:
    """Build dlt pipelines whose state and DuckDB file live in this test's temp folder."""

    def make(name: str = "census_test", dataset: str = "census") -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=name,
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
            dataset_name=dataset,
        )

    return make


@pytest.fixture
def pipeline(make_pipeline: PipelineFactory) -> dlt.Pipeline:
    """A fresh pipeline for this test."""
    return make_pipeline()


def source_for(sim: CensusSimulator, **options: Any) -> Any:
    """census_source pointed at the simulator with the right token."""
    from census_source import census_source

    return census_source(api_key=TOKEN, base_url=sim.base_url, **options)


def source_v2_for(sim: CensusSimulator, **options: Any) -> Any:
    """census_source speaking API v2 to the simulator with a personal access token."""
    from census_source import census_source

    return census_source(
        api_key=PERSONAL_TOKEN, base_url=sim.base_url_v2, api_version="v2", **options
    )
