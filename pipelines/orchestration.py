"""What the Airflow DAG and the Dagster assets share: their dlt pipeline and failed-sync check.

Orchestrators build it when they load their definitions, so nothing here needs the token,
the network or any setting to be present: the source itself is created when a run starts.
"""

from pathlib import Path

import dlt

from pipelines.census_pipeline import DATASET_NAME, PIPELINE_NAME
from pipelines.destinations import duckdb_destination
from syncruns_common.partial import PartialLoadError, raise_on_partial_load

DUCKDB_PATH_KEY = "destination.duckdb.credentials"
DUCKDB_PATH_ENV = "DESTINATION__DUCKDB__CREDENTIALS"


def duckdb_path(base_dir: Path) -> Path:
    """The DuckDB file to load into: dlt's `destination.duckdb.credentials` when set, else
    `<base_dir>/census_syncruns.duckdb`. A relative path is taken from `base_dir`."""
    configured: object = dlt.config.get(DUCKDB_PATH_KEY)
    if configured is None:
        path = Path(f"{PIPELINE_NAME}.duckdb")
    elif isinstance(configured, str) and configured.strip():
        path = Path(configured.strip()).expanduser()
    else:
        raise ValueError(
            f"{DUCKDB_PATH_KEY} (env {DUCKDB_PATH_ENV}) must be the path of a DuckDB file"
        )
    if not path.is_absolute():
        path = base_dir / path
    if path.stem == DATASET_NAME:
        raise ValueError(
            f"DuckDB file {path.name!r} is named like the dataset {DATASET_NAME!r}, which DuckDB "
            f"cannot load into: pick another file name in {DUCKDB_PATH_KEY}"
        )
    if not path.parent.is_dir():
        raise ValueError(f"{DUCKDB_PATH_KEY}: folder {str(path.parent)!r} does not exist")
    return path


def orchestrated_pipeline(base_dir: Path) -> dlt.Pipeline:
    """The `census_syncruns` pipeline on the configured DuckDB file, dataset `census`."""
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=duckdb_destination(duckdb_path(base_dir)),
        dataset_name=DATASET_NAME,
    )


def failed_syncs_message(pipeline: dlt.Pipeline) -> str | None:
    """Why to fail a run that loaded but left syncs failed after every retry (the CLI's exit 5);
    None when every sync loaded."""
    try:
        raise_on_partial_load(pipeline)
    except PartialLoadError as partial:
        return str(partial)
    return None
