"""One plain line instead of dlt's per-table warnings when a destination cannot merge.

dlt's filesystem destination (plain parquet/jsonl files) appends where a table asks for merge
and warns once per table and load (~15 lines a run); the user needs to hear it once, with
what it means for reading the files.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_FALLBACK = "Falling back to `append` on `"
_HARD_DELETE_IGNORED = 'The "hard_delete" column hint'

NOTE = (
    "syncruns: note: this destination cannot merge, so a run that is read again is appended "
    "as a new row (tables {tables}): keep the row with the newest _dlt_load_id per id "
    "(README, Destinations)"
)


class _AppendFallbacks(logging.Filter):
    """Drops dlt's fallback warnings and remembers the tables they named."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(_FALLBACK):
            table = message[len(_FALLBACK) :].split("`", 1)[0]
            if table not in self.tables:
                self.tables.append(table)
            return False
        # the reasons table's hard-delete flag cannot apply without merge: the note covers it
        return not message.startswith(_HARD_DELETE_IGNORED)


@contextmanager
def append_fallback_note() -> Iterator[None]:
    """Within the block, print one note (at its end) in place of dlt's fallback warnings."""
    fallbacks = _AppendFallbacks()
    logger = logging.getLogger("dlt")
    logger.addFilter(fallbacks)
    try:
        yield
    finally:
        logger.removeFilter(fallbacks)
        if fallbacks.tables:
            print(NOTE.format(tables=", ".join(sorted(fallbacks.tables))), file=sys.stderr)
