"""Fixtures: a seeded Hightouch simulator on 127.0.0.1 and dlt pipelines on temporary DuckDB files.

Names shadow the Census fixtures of tests/conftest.py for the tests in this folder.
"""

import os
from collections.abc import Iterator
from typing import Any

import dlt
import pytest

from hightouch_simulator import HightouchSimulator, World
from tests.conftest import PipelineFactory

TOKEN = "ht-sim-token-8c41d0e5"

os.environ.pop("SOURCES__HIGHTOUCH__API_KEY", None)


@pytest.fixture
def world() -> World:
    """The default seeded workspace (syncs with 0, 1, 99, 100, 101, 450, 7, 30 runs)."""
    return World(seed=11)


@pytest.fixture
def simulator(world: World) -> Iterator[HightouchSimulator]:
    """The simulator serving `world` over real HTTP on loopback."""
    with HightouchSimulator(world, token=TOKEN) as sim:
        yield sim


@pytest.fixture
def pipeline(make_pipeline: PipelineFactory) -> dlt.Pipeline:
    """A fresh pipeline for this test (`make_pipeline` comes from tests/conftest.py)."""
    return make_pipeline("hightouch_test", "hightouch")


def source_for(sim: HightouchSimulator, **options: Any) -> Any:
    """hightouch_source pointed at the simulator with the right token."""
    from hightouch_source import hightouch_source

    options.setdefault("api_key", TOKEN)
    return hightouch_source(base_url=sim.base_url, **options)
