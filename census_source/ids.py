"""Sync and run ids: one type per dataset, decided once and kept across API versions.

API v1 sends integer ids; v2 may send strings, possibly not numeric. A dataset keeps the id
type its first load gave it (bigint from v1, text from v2), so a dataset moved from v1 to v2
keeps bigint ids and merges the same runs onto the same rows.
"""

from collections.abc import Callable, Iterable, Mapping
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


# The resource-state key naming the API version whose sync ids the cursors hold.
CURSORS_API_VERSION = "api_version"


def cursors_api_version(resource_state: Mapping[str, Any], id_type: IdType) -> str:
    """The API version whose sync ids the stored cursors hold: as a load recorded it, else as
    the dataset's id type shows (bigint: first loaded, so its cursors written, by API v1)."""
    recorded = resource_state.get(CURSORS_API_VERSION)
    if isinstance(recorded, str) and recorded:
        return recorded
    return "v1" if id_type == "bigint" else "v2"


def renumbered_syncs(
    cursor_ids: Iterable[str], listed_ids: Iterable[str], written_by: str, version: str
) -> str | None:
    """Why a load must stop, in one line, when the sync ids changed between API versions.

    That is: the cursors were written by another API version than `version`, and not one of the
    syncs `version` lists now has a cursor. The same runs would then come back under new ids and
    be merged as new rows, so every run would be loaded twice. None when nothing says so.
    """
    cursors, listed = {str(i) for i in cursor_ids}, {str(i) for i in listed_ids}
    if not cursors or not listed or written_by == version or cursors & listed:
        return None
    return (
        f"the sync ids changed between API {written_by} and {version}: none of the "
        f"{len(listed)} syncs API {version} lists (e.g. {_sample(listed)}) is one of the "
        f"{len(cursors)} syncs with cursors in this dataset (e.g. {_sample(cursors)}), so "
        "loading would duplicate every run under new ids: the load stops before loading "
        f"anything. Load API "
        f"{version} into a new dataset (--dataset census_{version} --pipeline-name "
        f"census_{version}_syncruns), or keep sources.census.api_version = '{written_by}' "
        "for this one"
    )


def _sample(ids: set[str]) -> str:
    return ", ".join(sorted(ids, key=lambda text: (len(text), text))[:3])
