"""Moving a v1 dataset to v2 when v2 numbers the syncs and runs differently from v1.

The same runs under new ids would be merged as new rows: every run loaded twice. The load stops
before loading anything, in one line, and `syncruns doctor` says the same in its `state` check.
The simulator has no switch for renumbered v2 ids, so `RenumberedV2` uses its documented
`fault_for` hook to answer v2 with every id moved by `OFFSET` (and to accept those ids in paths).
"""

import json
import re
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from census_simulator.api import api_version, handle_get
from census_simulator.request_log import RequestLogEntry
from census_simulator.server import Response
from census_source.doctor import diagnose
from census_source.errors import CensusConfigError
from pipelines.doctor_report import Status
from tests.conftest import PERSONAL_TOKEN, TOKEN, source_for, source_v2_for
from tests.test_cli import syncruns
from tests.test_doctor import MAX_REQUESTS, line
from tests.test_v2_variants import failure
from tests.truth import assert_matches_truth, query, table

OFFSET = 5_000_000
_PATH_ID = re.compile(r"(?<=/)[0-9]+(?=/|$)")


def _moved(value: Any) -> Any:
    return str(int(value) + OFFSET) if isinstance(value, int | str) else value


class RenumberedV2(CensusSimulator):
    """API v2 that numbers every sync and run `OFFSET` above v1: the same runs, new ids."""

    def fault_for(self, entry: RequestLogEntry) -> Any:
        if api_version(entry.path) != 2 or not entry.authorized:
            return super().fault_for(entry)
        path = _PATH_ID.sub(lambda found: str(int(found.group()) - OFFSET), entry.path)
        answer = handle_get(self.world, path, entry.query, v2_id_style=self.v2_id_style)
        if answer.status != 200:
            return answer
        document = json.loads(answer.body)
        data = document.get("data")
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                for key in ("id", "sync_id"):
                    if key in item:
                        item[key] = _moved(item[key])
        return Response(200, json.dumps(document).encode(), answer.headers)


def world() -> World:
    return World(seed=21, sync_run_counts=(5, 130, 0, 12))


def counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    return {
        name: int(query(pipeline, f"SELECT count(*) FROM {table(pipeline, name)}")[0][0])
        for name in ("syncs", "sync_runs")
    }


def cursors(pipeline: dlt.Pipeline) -> dict[str, Any]:
    resource = pipeline.state["sources"]["census"]["resources"]["sync_runs"]
    return dict(resource["syncs"])


def test_renumbered_v2_ids_stop_the_load_before_loading_anything(
    pipeline: dlt.Pipeline, tmp_path: Path
) -> None:
    with RenumberedV2(world(), token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        pipeline.run(source_for(sim))
        before, stored = counts(pipeline), cursors(pipeline)
        sim.world.advance(seconds=3600, new_runs_per_sync=2)

        message = failure(pipeline, source_v2_for(sim), CensusConfigError)
        assert message.startswith("the sync ids changed between API v1 and v2: none of the 4 ")
        assert f"(e.g. {1000 + OFFSET}, {1001 + OFFSET}, {1002 + OFFSET})" in message
        assert "(e.g. 1000, 1001, 1002)" in message
        assert "loading would duplicate every run" in message
        assert "the load stops before loading anything" in message
        assert "--dataset census_v2 --pipeline-name census_v2_syncruns" in message
        assert "sources.census.api_version = 'v1'" in message
        v2_requests = [r for r in sim.requests if r.path.startswith("/api/v2/")]
        assert [r.path for r in v2_requests] == ["/api/v2/syncs"]  # no runs were read

        assert counts(pipeline) == before and cursors(pipeline) == stored
        assert not pipeline.list_extracted_load_packages()
        assert not pipeline.list_normalized_load_packages()

        # v1 still continues the dataset: nothing of the refused v2 run is left behind
        pipeline.run(source_for(sim))
        assert_matches_truth(pipeline, sim.world.ground_truth_runs())

        report = diagnose(
            api_key=PERSONAL_TOKEN,
            base_url=sim.base_url_v2,
            api_version="v2",
            destination=pipeline.destination,
            dataset_name=pipeline.dataset_name,
            pipeline_name=pipeline.pipeline_name,
            pipelines_dir=pipeline.pipelines_dir,
        )
    state = report.check("state")
    assert state is not None and state.status is Status.FAIL, report.render()
    assert report.exit_code == 2
    assert message in state.message  # the same line the load stops with
    assert state.fix is not None and "--dataset census_v2" in state.fix
    assert "\n" not in line(report, "state").splitlines()[0]
    assert report.requests <= MAX_REQUESTS


def test_the_same_ids_on_v2_continue_and_record_the_version(pipeline: dlt.Pipeline) -> None:
    with CensusSimulator(world(), token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        pipeline.run(source_for(sim))
        before = counts(pipeline)
        pipeline.run(source_v2_for(sim))
    resource = pipeline.state["sources"]["census"]["resources"]["sync_runs"]
    assert resource["api_version"] == "v2"
    assert counts(pipeline) == before  # the same runs merged onto the same rows


def test_v1_syncs_replaced_on_v1_are_new_syncs_not_a_refusal(pipeline: dlt.Pipeline) -> None:
    """Not one listed sync with a cursor, on the API version that wrote them: syncs deleted
    and created in the workspace, whose runs are new; they load."""
    with CensusSimulator(world(), token=TOKEN) as sim:
        pipeline.run(source_for(sim))
        old = [sync["id"] for sync in sim.world.syncs]
        sim.world.advance(seconds=3600, add_syncs=2, delete_syncs=old)
        pipeline.run(source_for(sim))
    assert set(cursors(pipeline)) >= {str(sync_id) for sync_id in old}


@pytest.mark.parametrize("with_backfill", [False, True])
def test_the_cli_stops_with_exit_2_and_one_line(tmp_path: Path, with_backfill: bool) -> None:
    with RenumberedV2(world(), token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        first = syncruns("run", "--base-url", sim.base_url, "--quiet", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        args = ["backfill", "--start", "2020-01-01"] if with_backfill else ["run"]
        result = syncruns(
            *args,
            "--base-url",
            sim.base_url_v2,
            "--api-version",
            "v2",
            "--quiet",
            cwd=tmp_path,
            token=PERSONAL_TOKEN,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [text for text in result.stderr.splitlines() if text.strip()]
    assert len(lines) == 1 and "the sync ids changed between API v1 and v2" in lines[0]
    assert PERSONAL_TOKEN not in result.stdout + result.stderr
