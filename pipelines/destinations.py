"""Destination set-up shared by the CLI and the benchmarks."""

import tempfile
from pathlib import Path
from typing import Any
from uuid import uuid4

import dlt
from dlt.common.destination import Destination
from dlt.common.exceptions import MissingDependencyException
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

# DuckDB sizes its memory to the machine by default: a 1M-run merge then peaks near 1.1 GB.
# With this ceiling it spills to disk: the process peaks near 300 MB from 100k to 1M runs
# (measured; 160MB cost +85 MB at 1M and saved ~4 s of its merge).
DEFAULT_DUCKDB_MEMORY_LIMIT = "64MB"


def duckdb_destination(
    path: Path, memory_limit: str | None = DEFAULT_DUCKDB_MEMORY_LIMIT, read_only: bool = False
) -> Any:
    """A DuckDB destination on `path`, with DuckDB's memory ceiling set (None = DuckDB's).

    `read_only` opens the file for reading only: it works while other readers hold the file,
    and on a read-only mount; a writer holding it still makes the open fail at once.
    """
    config: dict[str, Any] = {"memory_limit": memory_limit} if memory_limit else {}
    if read_only:
        # DuckDB spills next to the file (`<file>.tmp`), which a read-only mount refuses
        config["temp_directory"] = str(Path(tempfile.gettempdir()) / f"syncruns-{uuid4().hex}.tmp")
    credentials = DuckDbCredentials(str(path), read_only=read_only, global_config=config or None)
    return dlt.destinations.duckdb(credentials=credentials)


def checked_destination(reference: str, dataset: str) -> Any:
    """A destination by name, with its client package and credentials checked up front.

    dlt.pipeline() records a switched destination in the pipeline state before the destination
    fails; checking first keeps the state untouched when the package or credentials are missing.
    """
    factory: Any = Destination.from_reference(reference)
    try:
        _ = factory.client_class  # imports the destination's client library
    except ModuleNotFoundError as error:
        raise MissingDependencyException(
            f"{reference} destination", [f"dlt[{reference}]"]
        ) from error
    config = factory.spec()
    config.dataset_name = dataset
    factory.configuration(config)  # raises on missing credentials
    return factory
