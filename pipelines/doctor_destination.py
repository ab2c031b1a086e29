"""Is the destination reachable and writable, and what does the dataset already hold?

Works through dlt's own destination client (no pipeline is created, so no pipeline state is
touched): it opens a connection, creates and drops a scratch table in the dataset (and the
dataset itself when it does not exist yet), and reads the pipeline state and source schema a
run would restore from there.
"""

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlt.common.destination.client import WithStateSync
from dlt.common.schema import Schema
from dlt.destinations.exceptions import DatabaseException, DestinationConnectionError
from dlt.pipeline.state_sync import load_pipeline_state_from_destination

from pipelines.destinations import checked_destination
from pipelines.doctor_report import Check, fail, ok
from pipelines.exit_codes import ExitCode, classify

SCRATCH_TABLE_PREFIX = "_syncruns_doctor_"


@dataclass(frozen=True)
class DatasetFindings:
    """The `destination` row, and what a run would find in the dataset."""

    check: Check
    stored_state: dict[str, Any] | None = None  # the pipeline's state saved with the data
    stored_schema: Schema | None = None  # the source's schema as loaded into the dataset


def check_destination(
    destination: Any, dataset: str, pipeline_name: str, schema_name: str
) -> DatasetFindings:
    """Connect, write a scratch table into `dataset`, read the stored state and schema."""
    try:
        factory: Any = (
            checked_destination(destination, dataset)
            if isinstance(destination, str)
            else destination
        )
        config = factory.spec()
        config.dataset_name = dataset
        config = factory.configuration(config)
    except Exception as error:  # a package missing, credentials missing: as the CLI says it
        code, message = classify(error)
        return DatasetFindings(fail("destination", message, _fix(code), code))
    duckdb_file = _duckdb_file(config)
    existed = duckdb_file is None or duckdb_file.exists()
    try:
        with factory.client(Schema(schema_name), config) as client:
            return _probe(client, factory.destination_name, dataset, pipeline_name, schema_name)
    except DestinationConnectionError as error:
        code, message = classify(error)
        return DatasetFindings(fail("destination", message, _fix(code), code))
    finally:
        if duckdb_file is not None and not existed:
            # the file was made by connecting to it: leave nothing behind
            for leftover in (duckdb_file, duckdb_file.with_name(duckdb_file.name + ".wal")):
                leftover.unlink(missing_ok=True)


def _probe(
    client: Any, destination_name: str, dataset: str, pipeline_name: str, schema_name: str
) -> DatasetFindings:
    sql = client.sql_client
    where = f"{destination_name} dataset {dataset!r}"
    existed = sql.has_dataset()
    state = schema = None
    if existed and isinstance(client, WithStateSync):
        state = _stored_state(client, pipeline_name)
        stored = client.get_stored_schema(schema_name)
        if stored is not None:
            schema = Schema.from_stored_schema(json.loads(stored.schema))
    table = sql.make_qualified_table_name(SCRATCH_TABLE_PREFIX + uuid.uuid4().hex[:12])
    try:
        if not existed:
            sql.create_dataset()
        sql.execute_sql(f"CREATE TABLE {table} (probe INTEGER)")
        sql.execute_sql(f"INSERT INTO {table} VALUES (1)")
        sql.execute_sql(f"DROP TABLE {table}")
    except DatabaseException as error:
        return DatasetFindings(
            fail(
                "destination",
                f"{where} is reachable but not writable: {_one_line(error)}",
                "use credentials that may create tables in the dataset (DuckDB: not read_only; "
                "PostgreSQL: CREATE on the database or the schema), or pick another --dataset",
                ExitCode.BAD_INPUT,
            ),
            state,
            schema,
        )
    finally:
        if not existed and sql.has_dataset():
            sql.drop_dataset()
    if existed:
        done = "exists; created and dropped a scratch table"
    else:
        done = "does not exist yet; created it with a scratch table, then dropped both"
    return DatasetFindings(ok("destination", f"{where} {done}"), state, schema)


def _stored_state(client: Any, pipeline_name: str) -> dict[str, Any] | None:
    try:
        return dict(load_pipeline_state_from_destination(pipeline_name, client) or {}) or None
    except DatabaseException:  # no state table yet: nothing was loaded
        return None


def _duckdb_file(config: Any) -> Path | None:
    database = getattr(getattr(config, "credentials", None), "database", None)
    if getattr(config, "destination_type", "") != "duckdb" or not isinstance(database, str):
        return None
    return None if database == ":memory:" else Path(database)


def _fix(code: ExitCode) -> str:
    if code == ExitCode.BAD_INPUT:
        return "fix the destination settings named above"
    return "check the destination's host, credentials and that no other process holds it"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]
