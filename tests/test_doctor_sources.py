"""`diagnose()` of the Hightouch and Files.com sources against their simulators."""

from pathlib import Path
from typing import Any

import dlt

from files_com_simulator import FilesComSimulator
from files_com_simulator import World as FilesComWorld
from files_com_source.doctor import diagnose as diagnose_files_com
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld
from hightouch_source.doctor import diagnose as diagnose_hightouch
from pipelines.doctor_report import DoctorReport, Status
from tests.test_doctor import MAX_REQUESTS, failed, line

HT_TOKEN = "ht-doctor-token-51ac"
FC_KEY = "fcdoctorkey7e21"
FC_READ_ONLY = "fcdoctorreadonly9"


def where(tmp_path: Path) -> dict[str, Any]:
    return {
        "destination": dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")),
        "pipelines_dir": str(tmp_path / "pipelines"),
    }


def passed(report: DoctorReport) -> bool:
    return report.ready and all(row.status is not Status.WARN for row in report.checks)


def test_hightouch_good_setup_is_ready(tmp_path: Path) -> None:
    with HightouchSimulator(HightouchWorld(seed=11), token=HT_TOKEN) as sim:
        report = diagnose_hightouch(api_key=HT_TOKEN, base_url=sim.base_url, **where(tmp_path))
        assert passed(report) and report.exit_code == 0, report.render()
        assert len(sim.requests) == report.requests <= MAX_REQUESTS
    assert "by ascending id" in line(report, "runs")
    assert HT_TOKEN not in report.render() + report.to_json()


def test_hightouch_wrong_key_exits_3(tmp_path: Path) -> None:
    with HightouchSimulator(HightouchWorld(seed=11), token=HT_TOKEN) as sim:
        report = diagnose_hightouch(api_key="wrong", base_url=sim.base_url, **where(tmp_path))
    assert failed(report) == ["token"] and report.exit_code == 3
    assert "Hightouch rejected the API key (401)" in line(report, "token")


def test_hightouch_state_continues_from_the_cursors(tmp_path: Path) -> None:
    from hightouch_source import hightouch_source

    with HightouchSimulator(HightouchWorld(seed=11), token=HT_TOKEN) as sim:
        pipeline = dlt.pipeline(
            pipeline_name="hightouch_syncruns",
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")),
            dataset_name="hightouch",
        )
        pipeline.run(hightouch_source(api_key=HT_TOKEN, base_url=sim.base_url))
        report = diagnose_hightouch(api_key=HT_TOKEN, base_url=sim.base_url, **where(tmp_path))
    assert report.ready, report.render()
    assert "8 syncs continue from their cursors" in line(report, "state")


def test_files_com_good_setup_is_ready(tmp_path: Path) -> None:
    with FilesComSimulator(FilesComWorld(seed=11), api_key=FC_KEY) as sim:
        report = diagnose_files_com(api_key=FC_KEY, base_url=sim.base_url, **where(tmp_path))
        assert passed(report) and report.exit_code == 0, report.render()
        assert len(sim.requests) == report.requests <= MAX_REQUESTS
    assert "created_at ascending" in line(report, "runs")
    assert "cursor header followed to page 2" in line(report, "listing")


def test_files_com_wrong_and_read_only_keys_exit_3(tmp_path: Path) -> None:
    world = FilesComWorld(seed=11)
    with FilesComSimulator(world, api_key=FC_KEY, forbidden_keys=[FC_READ_ONLY]) as sim:
        wrong = diagnose_files_com(api_key="nope", base_url=sim.base_url, **where(tmp_path))
        refused = diagnose_files_com(api_key=FC_READ_ONLY, base_url=sim.base_url, **where(tmp_path))
    assert failed(wrong) == ["token"] and wrong.exit_code == 3
    assert "rejected the API key (401)" in line(wrong, "token")
    assert failed(refused) == ["token"] and refused.exit_code == 3
    assert "refused access for the API key (403)" in line(refused, "token")
