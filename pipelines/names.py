"""Pipeline and dataset names as the command line takes them, and as dlt stores them."""

import re
import sys

from dlt.common.normalizers.naming.snake_case import NamingConvention

from pipelines.sources import UsageError

_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def checked_name(flag: str, value: str, what: str) -> str:
    """`value` when it is a usable name; else UsageError naming `flag`."""
    if not _NAME_PATTERN.match(value):
        raise UsageError(
            f"{flag} {value!r} is not a valid {what}: "
            "use letters, digits and underscores, starting with a letter"
        )
    return value


def stored_dataset_name(typed: str) -> str:
    """The dataset name dlt creates for `typed` (`CensusProd` -> `census_prod`), said once.

    dlt normalizes dataset names (snake_case); every command normalizes the same way, so
    either spelling reaches the same dataset.
    """
    checked_name("--dataset", typed, "dataset name")
    stored: str = NamingConvention().normalize_identifier(typed)
    if stored != typed:
        print(
            f"syncruns: note: --dataset {typed!r} is the dataset {stored!r} "
            "(dlt stores names in snake_case; either spelling works)",
            file=sys.stderr,
        )
    return stored
