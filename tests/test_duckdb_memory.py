"""DuckDB's memory ceiling: the default the README states is the one DuckDB runs with."""

from pathlib import Path
from typing import Any

import dlt

from pipelines.destinations import DEFAULT_DUCKDB_MEMORY_LIMIT, duckdb_destination

README = Path(__file__).resolve().parent.parent / "README.md"


def _memory_limit(destination: Any, folder: Path) -> str:
    pipeline = dlt.pipeline(
        pipeline_name="memory_probe",
        pipelines_dir=str(folder / "pipelines"),
        destination=destination,
        dataset_name="probe",
    )
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT current_setting('memory_limit')")
    assert rows is not None
    return str(rows[0][0])


def test_the_default_memory_ceiling_reaches_duckdb(tmp_path: Path) -> None:
    assert DEFAULT_DUCKDB_MEMORY_LIMIT == "64MB"  # what benchmarks/RESULTS.md measured
    limit = _memory_limit(duckdb_destination(tmp_path / "runs.duckdb"), tmp_path)
    assert limit == "61.0 MiB"  # DuckDB shows 64 MB (10**6 bytes each) in MiB


def test_a_chosen_memory_ceiling_reaches_duckdb(tmp_path: Path) -> None:
    limit = _memory_limit(duckdb_destination(tmp_path / "runs.duckdb", "256MB"), tmp_path)
    assert limit == "244.1 MiB"


def test_the_readme_states_the_default() -> None:
    text = README.read_text()
    assert f"default `{DEFAULT_DUCKDB_MEMORY_LIMIT}`" in text
    assert "(160MB)" not in text
