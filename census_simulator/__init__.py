"""A standard-library simulator of the Census sync and sync-run API, for tests and benchmarks."""

from .api import Response
from .server import CensusSimulator, RequestLogEntry
from .world import DEFAULT_RUN_COUNTS, MISSING, AdvanceReport, World

__all__ = [
    "DEFAULT_RUN_COUNTS",
    "MISSING",
    "AdvanceReport",
    "CensusSimulator",
    "RequestLogEntry",
    "Response",
    "World",
]
