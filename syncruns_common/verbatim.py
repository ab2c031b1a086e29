"""Count the values kept verbatim in a load: one custom metric, one log line per column."""

from collections.abc import MutableMapping
from typing import Any

from dlt.common import logger

# Custom metric of each resource: {"table.column": count} of values kept in variant columns.
VERBATIM_VALUES = "verbatim_values"


class VerbatimTally:
    """Counts values kept verbatim per `table.column`; logs a column the first time it is seen."""

    def __init__(self, metrics: MutableMapping[str, Any], source: str) -> None:
        self._counts: dict[str, int] = metrics.setdefault(VERBATIM_VALUES, {})
        self._source = source

    def note(self, table: str, column: str, run_id: Any, suffix: str, count: int = 1) -> None:
        """Record `count` values of `table.column` kept in `{column}__v_{suffix}`."""
        key = f"{table}.{column}"
        if key not in self._counts:
            self._counts[key] = 0
            logger.warning(
                f"{self._source}: {table}.{column} received a value that does not fit its type "
                f"(e.g. run {run_id}); kept verbatim in {column}__v_{suffix}"
            )
        self._counts[key] += count

    @property
    def counts(self) -> dict[str, int]:
        """Values kept verbatim so far, by `table.column`."""
        return dict(self._counts)
