"""A standard-library simulator of the Files.com sync-run API, for tests and demos.

``World`` is a seeded site (syncs and their runs, a clock, the ground truth);
``FilesComSimulator`` serves it over real HTTP on 127.0.0.1 with ``X-FilesAPI-Key`` checks,
bare-array pages, cursor headers, ``created_at`` range filters, latency and a ``FaultPlan``.
"""

from simulator_common.http import Response
from simulator_common.odd_values import ALL_ODD_KINDS, OddValues

from .api import API_PREFIX, DEFAULT_PER_PAGE, MAX_PER_PAGE
from .faults import ALL_FAULTS, Fault, FaultPlan
from .generator import IN_PROGRESS, TERMINAL_STATUSES
from .quirks import Quirks
from .server import API_KEY_HEADER, DEFAULT_API_KEY, FilesComSimulator, RequestLogEntry
from .world import DEFAULT_RUN_COUNTS, MISSING, ODD_FIELDS, AdvanceReport, World

__all__ = [
    "ALL_FAULTS",
    "ALL_ODD_KINDS",
    "API_KEY_HEADER",
    "API_PREFIX",
    "DEFAULT_API_KEY",
    "DEFAULT_PER_PAGE",
    "DEFAULT_RUN_COUNTS",
    "IN_PROGRESS",
    "MAX_PER_PAGE",
    "MISSING",
    "ODD_FIELDS",
    "TERMINAL_STATUSES",
    "AdvanceReport",
    "Fault",
    "FaultPlan",
    "FilesComSimulator",
    "OddValues",
    "Quirks",
    "RequestLogEntry",
    "Response",
    "World",
]
