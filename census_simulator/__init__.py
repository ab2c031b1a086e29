"""A standard-library simulator of the Census sync and sync-run API, for tests and benchmarks."""

from .api import Response
from .faults import ALL_FAULTS, DESTRUCTIVE_FAULTS, Fault, FaultPlan
from .server import CensusSimulator, RequestLogEntry
from .world import DEFAULT_RUN_COUNTS, MISSING, AdvanceReport, World

__all__ = [
    "ALL_FAULTS",
    "DEFAULT_RUN_COUNTS",
    "DESTRUCTIVE_FAULTS",
    "MISSING",
    "AdvanceReport",
    "CensusSimulator",
    "Fault",
    "FaultPlan",
    "RequestLogEntry",
    "Response",
    "World",
]
