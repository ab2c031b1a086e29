"""Table shapes: column hints, and the row form that puts trigger reasons in a child table."""

from typing import Any

from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

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


SYNC_RUN_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "sync_id": {"data_type": "bigint", "nullable": False},
    "created_at": {"data_type": "timestamp", "nullable": False},
    **{name: _nullable("timestamp") for name in RUN_TIME_FIELDS},
    **{name: _nullable("bigint") for name in RUN_COUNT_FIELDS},
    **{name: _nullable("text") for name in RUN_TEXT_FIELDS},
    **{name: _nullable("bool") for name in RUN_FLAG_FIELDS},
}

SYNC_COLUMNS: TTableSchemaColumns = {
    "id": {"data_type": "bigint", "nullable": False, "primary_key": True},
    "label": _nullable("text"),
    "status": _nullable("text"),
    "operation": _nullable("text"),
    "schedule_frequency": _nullable("text"),
    "paused": _nullable("bool"),
    "created_at": _nullable("timestamp"),
    "updated_at": _nullable("timestamp"),
}


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    """The run as loaded: `sync_trigger_reason` becomes a 0- or 1-row child list with `sync_run_id`.

    An empty list (null or missing reason) makes a merge drop the run's old child row.
    """
    reason = run.get("sync_trigger_reason")
    if isinstance(reason, dict):
        children = [{"sync_run_id": run["id"], **reason}]
    elif reason is None:
        children = []
    else:
        children = [{"sync_run_id": run["id"], "value": reason}]
    return {**run, "sync_trigger_reason": children}
