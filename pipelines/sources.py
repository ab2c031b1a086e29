"""The sources the `syncruns` CLI can load, and what differs between them on the command line.

Each source keeps its own dlt source package; this module only maps CLI flags to its arguments,
names its default pipeline and dataset, and starts its simulator for the demo.
"""

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Flags that only the Census source understands, with the setting each one sets.
CENSUS_ONLY_FLAGS = {
    "region": "--region",
    "api_version": "--api-version",
    "group_id": "--group-id",
    "records": "--records",
}


class UsageError(Exception):
    """A command-line value is invalid; the message names the flag to fix."""


def duckdb_file(duckdb_path: str | None, pipeline_name: str, dataset: str) -> Path:
    """The DuckDB file of `--duckdb-path` (default `<pipeline-name>.duckdb`), checked."""
    path = Path(duckdb_path or f"{pipeline_name}.duckdb")
    if path.stem == dataset:
        raise UsageError(
            f"--dataset {dataset!r} equals the DuckDB file name {path.name!r}, "
            "which DuckDB cannot load into: pick another --dataset or --duckdb-path"
        )
    if not path.parent.is_dir():
        raise UsageError(f"--duckdb-path folder {str(path.parent)!r} does not exist")
    return path


@dataclass
class DemoServer:
    """A running simulator for the demo: where it is, the token it takes, how to move time."""

    base_url: str
    api_key: str
    advance: Callable[[float], Any]
    requests_made: Callable[[], int]


@dataclass(frozen=True)
class SourceSpec:
    """One source as the CLI sees it."""

    name: str
    title: str
    failed_statuses: tuple[str, ...]
    supports_sync_ids: bool
    supports_backfill_batches: bool
    make: Callable[..., Any]
    demo: Callable[[int, bool], Any]

    @property
    def pipeline_name(self) -> str:
        """Default dlt pipeline name (holds the cursors)."""
        return f"{self.name}_syncruns"

    @property
    def dataset(self) -> str:
        """Default dataset name."""
        return self.name

    def options(self, args: argparse.Namespace) -> dict[str, Any]:
        """Source arguments that the command line sets (the others come from dlt config)."""
        for setting, flag in CENSUS_ONLY_FLAGS.items():
            if self.name != "census" and getattr(args, setting, None):
                raise UsageError(f"{flag} applies only to --source census")
        options: dict[str, Any] = {}
        if getattr(args, "sync_ids", None):
            if not self.supports_sync_ids:
                raise UsageError(f"--sync-id does not apply to --source {self.name}")
            options["sync_ids"] = args.sync_ids
        if getattr(args, "base_url", None):
            if getattr(args, "region", None):
                raise UsageError("--region does not apply with --base-url (the URL names the host)")
            options["base_url"] = args.base_url
        if self.name == "census":
            for setting in ("region", "api_version", "group_id"):
                if getattr(args, setting, None):
                    options[setting] = getattr(args, setting)
            if getattr(args, "records", None):
                options["include_records"] = True
        return options


def _census(**options: Any) -> Any:
    from census_source import census_source

    return census_source(**options)


def _hightouch(**options: Any) -> Any:
    from hightouch_source import hightouch_source

    return hightouch_source(**options)


def _files_com(**options: Any) -> Any:
    from files_com_source import files_com_source

    return files_com_source(**options)


DEMO_TOKEN = "demo-token-not-a-secret"
FILES_COM_DEMO_KEY = "demo0key0not0a0secret"  # Files.com keys are letters and digits only
# the demo's history ends this long before now, leaving room for its simulated hour
_DEMO_ROOM = timedelta(hours=2)


def _counter(simulator: Any) -> Callable[[], int]:
    def requests_made() -> int:
        count = len(simulator.requests)
        simulator.reset_log()
        return count

    return requests_made


@contextmanager
def _census_demo(seed: int, v2: bool) -> Iterator[DemoServer]:
    from census_simulator import CensusSimulator, World  # demo-only: the product never imports it

    # the world ends now, so the health views' 7/30-day windows and the records' retention see it
    world = World.ending_near(datetime.now(UTC) - _DEMO_ROOM, seed=seed)
    with CensusSimulator(world, token=DEMO_TOKEN, personal_access_token=DEMO_TOKEN) as sim:
        base_url = sim.base_url_v2 if v2 else sim.base_url
        yield DemoServer(base_url, DEMO_TOKEN, lambda s: world.advance(seconds=s), _counter(sim))


def _recent(world_type: Any, seed: int) -> Any:
    """A seeded world moved by whole days so that it ends shortly before now (same shape)."""
    probe = world_type(seed=seed)
    days = (datetime.now(UTC) - _DEMO_ROOM - probe.now) // timedelta(days=1)
    return world_type(seed=seed, start=probe.start + days * timedelta(days=1))


@contextmanager
def _hightouch_demo(seed: int, v2: bool) -> Iterator[DemoServer]:
    from hightouch_simulator import HightouchSimulator, World

    world = _recent(World, seed)
    with HightouchSimulator(world, token=DEMO_TOKEN) as sim:
        yield DemoServer(
            sim.base_url, DEMO_TOKEN, lambda s: world.advance(seconds=s), _counter(sim)
        )


@contextmanager
def _files_com_demo(seed: int, v2: bool) -> Iterator[DemoServer]:
    from files_com_simulator import FilesComSimulator, World

    # this world's `start` is its clock: its history lies before it
    now = (datetime.now(UTC) - _DEMO_ROOM).replace(minute=0, second=0, microsecond=0)
    world = World(seed=seed, start=now)
    with FilesComSimulator(world, api_key=FILES_COM_DEMO_KEY) as sim:
        yield DemoServer(
            sim.base_url, FILES_COM_DEMO_KEY, lambda s: world.advance(seconds=s), _counter(sim)
        )


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec("census", "Census", ("failed",), True, True, _census, _census_demo),
        SourceSpec(
            "hightouch",
            "Hightouch",
            ("failed", "interrupted"),
            True,
            False,
            _hightouch,
            _hightouch_demo,
        ),
        SourceSpec(
            "files_com",
            "Files.com",
            ("failure", "partial_failure"),
            False,
            False,
            _files_com,
            _files_com_demo,
        ),
    )
}
