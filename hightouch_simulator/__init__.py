"""A standard-library simulator of the Hightouch sync and sync-run API, for tests and demos.

It never imports the product (`hightouch_source`); the product never imports it.
"""

from simulator_common.http import Response
from simulator_common.odd_values import ALL_ODD_KINDS, OddValues

from .faults import ALL_FAULTS, Fault, FaultPlan
from .generator import OPEN_STATUSES, TERMINAL_STATUSES
from .quirks import ApiQuirks
from .server import DEFAULT_RATE_LIMIT, HightouchSimulator, RequestLogEntry
from .world import DEFAULT_RUN_COUNTS, ODD_FIELDS, AdvanceReport, World

__all__ = [
    "ALL_FAULTS",
    "ALL_ODD_KINDS",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RUN_COUNTS",
    "ODD_FIELDS",
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
    "AdvanceReport",
    "ApiQuirks",
    "Fault",
    "FaultPlan",
    "HightouchSimulator",
    "OddValues",
    "RequestLogEntry",
    "Response",
    "World",
]
