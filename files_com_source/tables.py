"""Column hints of `sync_runs` and its child tables, from the SDK's SyncRun models."""

from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

RUN_COUNT_FIELDS = (
    "bytes_synced",
    "compared_files",
    "compared_folders",
    "errored_files",
    "estimated_bytes_count",
    "successful_files",
)
RUN_ID_FIELDS = ("sync_id", "site_id", "workspace_id")
RUN_TIME_FIELDS = ("completed_at", "updated_at")
RUN_TEXT_FIELDS = (
    "status",
    "sync_name",
    "src_remote_server_type",
    "dest_remote_server_type",
    "body",
    "log_url",
)

EVENT_ERRORS_TABLE = "sync_runs__event_errors"
LIVE_TRANSFERS_TABLE = "sync_runs__live_transfers"
# lists of strings: an entry that is not one lands in value__v_bool / value__v_json (row_guard)
TEXT_LISTS = frozenset({"event_errors"})
# lists of objects (a child table each): one that is not a list is kept as <name>__v_json
OBJECT_LISTS = frozenset({"live_transfers"})


def _nullable(data_type: str) -> TColumnSchema:
    return {"data_type": data_type, "nullable": True}  # type: ignore[typeddict-item]


RUN_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "created_at": {"data_type": "timestamp", "nullable": False},
    **{name: _nullable("bigint") for name in RUN_ID_FIELDS},
    **{name: _nullable("timestamp") for name in RUN_TIME_FIELDS},
    **{name: _nullable("bigint") for name in RUN_COUNT_FIELDS},
    **{name: _nullable("text") for name in RUN_TEXT_FIELDS},
    "runtime": _nullable("double"),
    "dry_run": _nullable("bool"),
}

# dlt unpacks the `event_errors` list of strings into sync_runs__event_errors, one row per
# error in a `value` column, linked by _dlt_parent_id (= sync_runs._dlt_id) and ordered by
# _dlt_list_idx. With merge on id, re-loading a run replaces its rows there.
EVENT_ERROR_HINTS: TTableSchemaColumns = {
    "value": {"name": "value", "data_type": "text", "nullable": True},
}

# SyncRunLiveTransfer: one row per entry of a run's `live_transfers` (sent while the run is
# in_progress), replaced like event_errors when the run is loaded again and gone once it ends.
# started_at is typed string in the model (not date-time), so it stays text.
LIVE_TRANSFER_COLUMNS: TTableSchemaColumns = {
    name: {"name": name, **_nullable(data_type)}  # nested hints need the name (dlt)
    for name, data_type in (
        ("path", "text"),
        ("status", "text"),
        ("bytes_copied", "bigint"),
        ("bytes_total", "bigint"),
        ("percentage", "double"),
        ("eta", "text"),
        ("started_at", "text"),
    )
}
