"""Destination set-up shared by the CLI and the benchmarks."""

from pathlib import Path
from typing import Any

import dlt
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

# DuckDB sizes its memory to the machine by default: a 1M-run merge then peaks near 1.1 GB.
# With this ceiling it spills to disk and the whole process peaks under 400 MB (measured).
DEFAULT_DUCKDB_MEMORY_LIMIT = "160MB"


def duckdb_destination(path: Path, memory_limit: str | None = DEFAULT_DUCKDB_MEMORY_LIMIT) -> Any:
    """A DuckDB destination on `path`, with DuckDB's memory ceiling set (None = DuckDB's)."""
    config = {"memory_limit": memory_limit} if memory_limit else None
    return dlt.destinations.duckdb(credentials=DuckDbCredentials(str(path), global_config=config))
