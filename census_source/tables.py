"""Table shapes: documented run fields and the column hints of `syncs` and the reasons table.

The types of `sync_runs` columns are set by the Arrow schema built in arrow_pages.py.
"""

from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

from syncruns_common.row_guard import kinds_of

RUN_COUNT_FIELDS = (
    "source_record_count",
    "records_processed",
    "records_updated",
    "records_failed",
    "records_invalid",
    "source_record_updates",
    "source_record_deletes",
    "source_record_invalids",
    "records_sent",
)
RUN_TIME_FIELDS = ("updated_at", "completed_at", "scheduled_execution_time")
RUN_TEXT_FIELDS = ("status", "current_step", "error_code", "error_message", "error_detail")
RUN_FLAG_FIELDS = ("canceled", "full_sync")


def _nullable(data_type: str) -> TColumnSchema:
    return {"data_type": data_type, "nullable": True}  # type: ignore[typeddict-item]


SYNC_COLUMNS: TTableSchemaColumns = {
    # no data_type: ids are bigint or text by the dataset's id type (ids.py)
    "id": {"nullable": False, "primary_key": True},
    "label": _nullable("text"),
    "status": _nullable("text"),
    "operation": _nullable("text"),
    "schedule_frequency": _nullable("text"),
    "paused": _nullable("bool"),
    "created_at": _nullable("timestamp"),
    "updated_at": _nullable("timestamp"),
}


# what the documented sync fields become (values.py); mappings go to syncs__mappings as dlt
# unpacks them
SYNC_KINDS = kinds_of(SYNC_COLUMNS)


REASONS_TABLE = "sync_runs__sync_trigger_reason"
REASON_COLUMNS: TTableSchemaColumns = {
    "sync_run_id": {"nullable": False, "primary_key": True},
    "ui_tag": _nullable("text"),
    "ui_detail": _nullable("text"),
    "_deleted": {"data_type": "bool", "nullable": True, "hard_delete": True},
}
