"""Sync and run ids: one type per dataset, decided once and kept across API versions.

API v1 sends integer ids; v2 may send strings, possibly not numeric. A dataset keeps the id
type its first load gave it (bigint from v1, text from v2), so a dataset moved from v1 to v2
keeps bigint ids and merges the same runs onto the same rows.
"""

from collections.abc import Callable
from typing import Any

from dlt.common.schema import Schema

from census_source.errors import CensusResponseError
from census_source.versions import ApiVersion, IdType

# Where a loaded dataset shows its id type, most telling first.
_ID_COLUMNS = (("sync_runs", "id"), ("sync_runs", "sync_id"), ("syncs", "id"))

IdCodec = Callable[[Any], int | str]


def dataset_id_type(schema: Schema, version: ApiVersion) -> IdType:
    """The id type of the dataset behind `schema`, or the version's default for a new one."""
    for table, column in _ID_COLUMNS:
        data_type = schema.tables.get(table, {}).get("columns", {}).get(column, {}).get("data_type")
        if data_type in ("bigint", "text"):
            return data_type
    return version.new_dataset_id_type


def id_codec(id_type: IdType) -> IdCodec:
    """The function that turns an API id into the dataset's id value."""
    return _as_integer if id_type == "bigint" else _as_text


def _as_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise CensusResponseError(f"answered an id {value!r} that is neither a number nor a string")
    return str(value)


def _as_integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise CensusResponseError(
        f"answered the non-numeric id {value!r}, but this dataset stores ids as integers (it was "
        "first loaded with API v1): load API v2 into a new dataset, or report the id to us"
    )
