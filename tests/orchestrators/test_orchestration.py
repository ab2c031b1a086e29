"""The orchestrators' shared pipeline set-up (default suite: no Airflow or Dagster needed)."""

from pathlib import Path

import pytest

from census_simulator import Response, World
from census_source import census_source
from pipelines.orchestration import DUCKDB_PATH_ENV, duckdb_path, failed_syncs_message
from tests.conftest import TOKEN, PipelineFactory
from tests.scripted import Scripted, ScriptedSimulator


def test_duckdb_file_defaults_to_the_pipeline_name_in_the_base_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DUCKDB_PATH_ENV, raising=False)
    assert duckdb_path(tmp_path) == tmp_path / "census_syncruns.duckdb"


@pytest.mark.parametrize("relative", [True, False])
def test_configured_duckdb_file_is_taken_from_the_base_folder_when_relative(
    relative: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    expected = tmp_path / "data" / "runs.duckdb"
    monkeypatch.setenv(DUCKDB_PATH_ENV, "data/runs.duckdb" if relative else str(expected))
    assert duckdb_path(tmp_path) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("census.duckdb", r"named like the dataset 'census'.*destination\.duckdb\.credentials"),
        ("missing/runs.duckdb", r"destination\.duckdb\.credentials: folder .*missing.* not exist"),
        (" ", r"destination\.duckdb\.credentials \(env DESTINATION__DUCKDB__CREDENTIALS\) must"),
    ],
)
def test_unusable_duckdb_file_is_one_clear_error(
    value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DUCKDB_PATH_ENV, value)
    with pytest.raises(ValueError, match=message):
        duckdb_path(tmp_path)


def test_failed_syncs_message_names_each_failed_sync_until_caught_up(
    make_pipeline: PipelineFactory,
) -> None:
    world = World(seed=5, sync_run_counts=(3, 120, 40))
    bad = world.syncs[1]["id"]
    outage = Scripted(
        lambda e: e.path.endswith(f"/syncs/{bad}/sync_runs"), Response(503, b"{}"), None
    )
    pipeline = make_pipeline()
    with ScriptedSimulator(world, outage) as sim:
        pipeline.run(census_source(api_key=TOKEN, base_url=sim.base_url))
        message = failed_syncs_message(pipeline)
        outage.times = 0
        pipeline.run(census_source(api_key=TOKEN, base_url=sim.base_url))

    assert message is not None
    assert message.startswith("1 sync(s) failed after every retry and keep their cursors")
    assert f"sync {bad}: Census API kept answering 503" in message
    assert failed_syncs_message(pipeline) is None
