"""Each source's loaded tables mapped to the one shape of run the health views read.

A new source (Hightouch, Files.com) is one more `RunSource`: a SELECT over its `sync_runs`
(and `syncs`) tables returning the common columns (`pipelines.health_sql.RUN_COLUMNS`).
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RunSource:
    """How one source's loaded tables map to the common shape the views read.

    `runs_select` / `syncs_select` are SELECTs with `{runs}` / `{syncs}` in place of the
    qualified table names, returning the columns of RUN_COLUMNS / SYNC_COLUMNS (any order).
    `dataset` None means the pipeline's own dataset.
    """

    name: str
    runs_table: str
    syncs_table: str
    runs_select: str
    syncs_select: str
    dataset: str | None = None


CENSUS = RunSource(
    name="census",
    runs_table="sync_runs",
    syncs_table="syncs",
    runs_select="""
        SELECT sync_id, id AS run_id, status,
               CASE status WHEN 'completed' THEN 'success' WHEN 'failed' THEN 'failure'
                           WHEN 'skipped' THEN 'skipped' ELSE 'open' END AS outcome,
               created_at, completed_at, records_processed, records_updated, records_failed,
               records_invalid, error_code, error_message, error_detail
        FROM {runs}""",
    syncs_select="SELECT id AS sync_id, label AS sync_label FROM {syncs}",
)
HIGHTOUCH = RunSource(
    name="hightouch",
    runs_table="sync_runs",
    syncs_table="syncs",
    # success and warning (done, some rows rejected) succeeded; cancelled runs are neither
    runs_select="""
        SELECT sync_id, id AS run_id, status,
               CASE WHEN status IN ('success', 'warning') THEN 'success'
                    WHEN status IN ('failed', 'interrupted') THEN 'failure'
                    WHEN status = 'cancelled' THEN 'skipped' ELSE 'open' END AS outcome,
               created_at, finished_at AS completed_at,
               planned_rows__added_count + planned_rows__changed_count
                   + planned_rows__removed_count AS records_processed,
               successful_rows__added_count + successful_rows__changed_count
                   + successful_rows__removed_count AS records_updated,
               failed_rows__added_count + failed_rows__changed_count
                   + failed_rows__removed_count AS records_failed,
               CAST(NULL AS bigint) AS records_invalid,
               CAST(NULL AS text) AS error_code, error AS error_message,
               CAST(NULL AS text) AS error_detail
        FROM {runs}""",
    syncs_select="SELECT id AS sync_id, slug AS sync_label FROM {syncs}",
)
FILES_COM = RunSource(
    name="files_com",
    runs_table="sync_runs",
    syncs_table="sync_runs",  # no syncs endpoint: each run carries its sync's name
    # a partial failure (some files failed) counts as a failure; files stand in for records
    runs_select="""
        SELECT sync_id, id AS run_id, status,
               CASE WHEN status = 'success' THEN 'success'
                    WHEN status IN ('failure', 'partial_failure') THEN 'failure'
                    WHEN status = 'skipped' THEN 'skipped' ELSE 'open' END AS outcome,
               created_at, completed_at, compared_files AS records_processed,
               successful_files AS records_updated, errored_files AS records_failed,
               CAST(NULL AS bigint) AS records_invalid, CAST(NULL AS text) AS error_code,
               body AS error_message, CAST(NULL AS text) AS error_detail
        FROM {runs}""",
    syncs_select="SELECT sync_id, MAX(sync_name) AS sync_label FROM {syncs} GROUP BY sync_id",
)
SOURCES: tuple[RunSource, ...] = (CENSUS,)
ALL_SOURCES: dict[str, RunSource] = {s.name: s for s in (CENSUS, HIGHTOUCH, FILES_COM)}


def sources_seen_from(source: str) -> tuple[RunSource, ...]:
    """The sources whose runs the views of `source`'s dataset show: that source's own tables,
    and every other source in its default dataset (named like the source) when loaded there."""
    own = ALL_SOURCES[source]
    others = [
        replace(other, dataset=other.name) for other in ALL_SOURCES.values() if other is not own
    ]
    return (own, *others)
