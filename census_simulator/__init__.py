"""A standard-library simulator of the Census sync and sync-run API, for tests and benchmarks."""

from simulator_common.http import Response
from simulator_common.odd_values import ALL_ODD_KINDS, OddValues

from .faults import ALL_FAULTS, DESTRUCTIVE_FAULTS, Fault, FaultPlan
from .quirks import Quirks
from .records import (
    DEFAULT_RECORDS_RETENTION_DAYS,
    INVALID_KINDS,
    RECORD_OPERATIONS,
    RECORD_STATUS_FILTERS,
    RECORDS_PER_STATUS_CAP,
)
from .server import CensusSimulator, RequestLogEntry
from .v2 import DEFAULT_V2_ID_STYLE, V2_ID_STYLES, as_v2, v2_run_id, v2_sync_id
from .world import DEFAULT_GROUP, DEFAULT_RUN_COUNTS, MISSING, ODD_FIELDS, AdvanceReport, World

__all__ = [
    "ALL_FAULTS",
    "ALL_ODD_KINDS",
    "DEFAULT_GROUP",
    "DEFAULT_RECORDS_RETENTION_DAYS",
    "DEFAULT_RUN_COUNTS",
    "DEFAULT_V2_ID_STYLE",
    "DESTRUCTIVE_FAULTS",
    "INVALID_KINDS",
    "MISSING",
    "ODD_FIELDS",
    "RECORDS_PER_STATUS_CAP",
    "RECORD_OPERATIONS",
    "RECORD_STATUS_FILTERS",
    "V2_ID_STYLES",
    "AdvanceReport",
    "CensusSimulator",
    "Fault",
    "FaultPlan",
    "OddValues",
    "Quirks",
    "RequestLogEntry",
    "Response",
    "World",
    "as_v2",
    "v2_run_id",
    "v2_sync_id",
]
