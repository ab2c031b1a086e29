"""Column hints of `syncs` and `sync_runs`, by the names dlt's snake_case naming gives them.

Run fields are camelCase in the API (`completionRatio`, `plannedRows.addedCount`); dlt turns
them into `completion_ratio` and, flattening nested objects, `planned_rows__added_count`.
"""

from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

ROW_GROUPS = ("planned_rows", "successful_rows", "failed_rows")
ROW_COUNTS = ("added_count", "changed_count", "removed_count")
RUN_COUNT_COLUMNS = tuple(f"{group}__{count}" for group in ROW_GROUPS for count in ROW_COUNTS)
RUN_TIME_COLUMNS = ("created_at", "started_at", "finished_at")
RUN_TEXT_COLUMNS = ("status", "error")


def _nullable(data_type: str) -> TColumnSchema:
    return {"data_type": data_type, "nullable": True}  # type: ignore[typeddict-item]


def _key(data_type: str) -> TColumnSchema:
    return {"data_type": data_type, "nullable": False}  # type: ignore[typeddict-item]


SYNC_COLUMNS: TTableSchemaColumns = {
    "id": {**_key("bigint"), "primary_key": True},
    "slug": _nullable("text"),
    "workspace_id": _nullable("text"),
    "model_id": _nullable("text"),
    "destination_id": _nullable("text"),
    "status": _nullable("text"),
    "disabled": _nullable("bool"),
    "primary_key": _nullable("text"),
    "created_at": _nullable("timestamp"),
    "updated_at": _nullable("timestamp"),
    "last_run_at": _nullable("timestamp"),
    # free-form per destination ("make no assumptions on its contents"): kept as JSON
    "configuration": _nullable("json"),
    "schedule": _nullable("json"),
    "referenced_columns": _nullable("json"),
}

RUN_COLUMNS: TTableSchemaColumns = {
    "id": {**_key("bigint"), "primary_key": True},
    "sync_id": _key("bigint"),
    **{name: _nullable("timestamp") for name in RUN_TIME_COLUMNS},
    **{name: _nullable("text") for name in RUN_TEXT_COLUMNS},
    "completion_ratio": _nullable("double"),
    "query_size": _nullable("bigint"),
    **{name: _nullable("bigint") for name in RUN_COUNT_COLUMNS},
}
