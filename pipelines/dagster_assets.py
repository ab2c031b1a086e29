"""Dagster assets for the Census source: `dagster dev -m pipelines.dagster_assets`.

`pip install "syncruns[dagster]"`. One `@dlt_assets` op loads the `syncs` and `sync_runs`
resources (assets `dlt_census_syncs`, `dlt_census_sync_runs`; schedule `census_syncruns_daily`,
off until switched on) into DuckDB: the file is
`DESTINATION__DUCKDB__CREDENTIALS`, default `census_syncruns.duckdb` in the working directory.
Settings come from dlt config (`.dlt/*.toml` in the working directory, or the environment:
`SOURCES__CENSUS__API_KEY`, `SOURCES__CENSUS__BASE_URL`, ...) when a run starts.

dagster-dlt drops the local pipeline folder before each run, so the per-sync cursors come back
from the destination, where they are committed with the data they describe. A run in which
some syncs failed after every HTTP retry loads everything else, then fails naming those syncs
(like the CLI's exit code 5); their cursors did not move, so the next run catches them up.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, Definitions, Failure, ScheduleDefinition
from dagster_dlt import DagsterDltResource, dlt_assets

from census_source import census_source
from pipelines.orchestration import failed_syncs_message, orchestrated_pipeline

# dagster-dlt reads only the resources of this instance (for the asset keys); each run builds
# its own source from config, so the token is needed where assets run, not where they load.
DEFINITION_ONLY_TOKEN = "definition-only-not-a-token"

pipeline = orchestrated_pipeline(Path.cwd())


@dlt_assets(  # type: ignore[untyped-decorator,unused-ignore]
    dlt_source=census_source(api_key=DEFINITION_ONLY_TOKEN),
    dlt_pipeline=pipeline,
    name="census",
    group_name="census",
)
def census_assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Load new and still-open runs of every sync (the first run loads each full history)."""
    yield from dlt.run(context=context, dlt_source=census_source())
    problem = failed_syncs_message(pipeline)
    if problem:
        raise Failure(description=problem)


# Stopped until switched on in the UI, like any Dagster schedule without a default status.
daily = ScheduleDefinition(
    name="census_syncruns_daily", target=census_assets, cron_schedule="@daily"
)

defs = Definitions(
    assets=[census_assets], schedules=[daily], resources={"dlt": DagsterDltResource()}
)
