"""Airflow DAG `census_syncruns`: a daily incremental load of Census sync runs with dlt.

Link or copy this file into Airflow's dags folder (`pip install "syncruns[airflow]"`).
Settings come from dlt config: `<dags_folder>/.dlt/*.toml` or the environment
(`SOURCES__CENSUS__API_KEY`, `SOURCES__CENSUS__BASE_URL`, ...). The DuckDB file is
`DESTINATION__DUCKDB__CREDENTIALS`, default `$AIRFLOW_HOME/census_syncruns.duckdb`.

dlt's `PipelineTasksGroup` runs the load in a fresh working folder and wipes it afterwards,
so each run restores the per-sync cursors from the destination, where they are committed
with the data they describe. A run in which some syncs failed after every HTTP retry loads
everything else, then fails the task naming those syncs (like the CLI's exit code 5); their
cursors did not move, so Airflow's retry catches them up.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.configuration import AIRFLOW_HOME
from airflow.sdk import DAG
from dlt.helpers.airflow_helper import PipelineTasksGroup

from census_source import census_source
from pipelines.census_pipeline import PIPELINE_NAME
from pipelines.orchestration import failed_syncs_message, orchestrated_pipeline

DAG_ID = "census_syncruns"


def fail_on_failed_syncs(context: Any, result: Any) -> None:
    """Task post-execute hook: after the load, fail if some syncs failed after every retry."""
    # dlt's task group runs this very pipeline object (`drop()` re-initializes it in place)
    problem = failed_syncs_message(pipeline)
    if problem:
        raise RuntimeError(problem)


with DAG(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # runs share the cursors and the DuckDB file
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["census", "dlt"],
    doc_md=__doc__,
) as dag:
    # Must exist before the pipeline: it gives dlt a fresh working folder for each task run.
    tasks = PipelineTasksGroup(PIPELINE_NAME, use_data_folder=False, wipe_local_data=True)
    pipeline = orchestrated_pipeline(Path(AIRFLOW_HOME))
    # The factory, not a source: it runs when the task does, reading token and settings then.
    tasks.add_run(pipeline, census_source, decompose="none", post_execute=fail_on_failed_syncs)
