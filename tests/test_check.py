"""`syncruns check`: thresholds against the health views, exit codes, --json."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest

from census_simulator import CensusSimulator, World
from pipelines.census_pipeline import build_parser
from pipelines.check import Thresholds, evaluate, parse_duration, parse_rate
from pipelines.exit_codes import ExitCode
from pipelines.health_views import create_health_views
from pipelines.report import read_health
from tests.conftest import TOKEN
from tests.health_truth import expected_health, recent_world
from tests.test_cli import syncruns
from tests.test_health_views import NOW, crafted_world, load


@pytest.fixture
def crafted(pipeline: dlt.Pipeline) -> tuple[World, list[dict[str, Any]]]:
    world = crafted_world()
    load(world, pipeline)
    create_health_views(pipeline, now=NOW)
    return world, read_health(pipeline, now=NOW).syncs


def flagged(rows: list[dict[str, Any]], thresholds: Thresholds) -> dict[str, list[str]]:
    verdict = evaluate(rows, thresholds, NOW)
    return {row["sync_id"]: [p.check for p in problems] for row, problems in verdict.unhealthy}


def truth(world: World, now: datetime) -> dict[str, dict[str, Any]]:
    rows = expected_health(world.ground_truth_runs(), world.ground_truth_syncs(), now)
    return {sync_id: row for (_, sync_id), row in rows.items()}


def test_each_threshold_flags_exactly_the_syncs_past_it(
    crafted: tuple[World, list[dict[str, Any]]],
) -> None:
    world, rows = crafted
    expected = truth(world, NOW)
    ids = [str(s["id"]) for s in world.syncs]
    empty, open_only, streak, edges, never, tie = ids

    # no threshold given: a sync whose latest finished run failed
    failing = {k for k, r in expected.items() if r["consecutive_failures"] > 0}
    assert set(flagged(rows, Thresholds())) == failing == {streak, edges, never, tie}
    assert set(flagged(rows, Thresholds(max_consecutive_failures=1))) == {streak, never}
    assert flagged(rows, Thresholds(max_failure_rate=0.5)) == {
        k: ["failure_rate_7d"]
        for k, r in expected.items()
        if r["failure_rate_7d"] is not None and r["failure_rate_7d"] > 0.5
    }
    assert set(flagged(rows, Thresholds(max_failure_rate=0.5, window="30d"))) == {
        k for k, r in expected.items() if (r["failure_rate_30d"] or 0) > 0.5
    }
    stale = flagged(rows, Thresholds(stale_after=timedelta(days=2)))
    assert set(stale) == {
        k
        for k, r in expected.items()
        if r["runs"]
        and (r["last_success_at"] is None or NOW - r["last_success_at"] > timedelta(days=2))
    }
    assert open_only in stale and never in stale and empty not in stale  # no runs: not judged
    both = flagged(rows, Thresholds(max_consecutive_failures=1, max_failure_rate=0.6))
    assert both[streak] == ["consecutive_failures", "failure_rate_7d"]  # 2/3 > 0.6
    assert not flagged(rows, Thresholds(max_consecutive_failures=2, max_failure_rate=1.0))


def test_threshold_values_parse_or_fail_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_rate("0.25") == 0.25 and parse_rate("20%") == 0.2 and parse_rate("1") == 1.0
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5d") == timedelta(hours=36)
    assert parse_duration("2w") == timedelta(weeks=2)
    parser = build_parser()
    for flag, value, hint in [
        ("--max-failure-rate", "1.5", "use a fraction from 0 to 1"),
        ("--max-failure-rate", "lots", "use a fraction from 0 to 1"),
        ("--max-failure-rate", "-5%", "use a fraction from 0 to 1"),
        ("--max-consecutive-failures", "-1", "is not a whole number of 0 or more"),
        ("--max-consecutive-failures", "2.5", "is not a whole number of 0 or more"),
        ("--stale-after", "24", "use a number and a unit s, m, h, d or w"),
        ("--stale-after", "0h", "use a number and a unit s, m, h, d or w"),
        ("--stale-after", "3 fortnights", "use a number and a unit s, m, h, d or w"),
        ("--window", "90d", "invalid choice"),
    ]:
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(["check", f"{flag}={value}"])
        assert stop.value.code == 2, (flag, value)
        error = capsys.readouterr().err
        assert error.startswith(f"syncruns: error: argument {flag}: ") and hint in error, error
        assert error.count("\n") == 1


def test_bad_threshold_from_the_console_script(tmp_path: Path) -> None:
    result = syncruns("check", "--max-failure-rate", "150%", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr == (
        "syncruns: error: argument --max-failure-rate: '150%' is not a failure rate: use a "
        "fraction from 0 to 1 (0.2) or a percentage (20%) (see `syncruns check --help`)\n"
    )


@dataclass
class Loaded:
    world: World
    cwd: Path
    failing: set[str]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A recent workspace where two syncs' latest finished runs failed, loaded by the CLI."""
    world = recent_world(seed=31, counts=(0, 5, 40, 40, 12))
    cwd = tmp_path_factory.mktemp("check_cli")
    syncs = [s["id"] for s in world.syncs]
    for sync_id in syncs[1:3]:  # make sure: a failed run that is the newest of the sync
        world.add_run(sync_id, status="failed", created_at=world.now - timedelta(minutes=5))
    world.add_run(syncs[3], status="completed", created_at=world.now - timedelta(minutes=5))
    with CensusSimulator(world, token=TOKEN) as sim:
        result = syncruns("run", "--quiet", "--base-url", sim.base_url, cwd=cwd)
    assert result.returncode == 0, result.stderr
    failing = {k for k, r in truth(world, world.now).items() if r["consecutive_failures"] > 0}
    assert {str(s) for s in syncs[1:3]} <= failing and str(syncs[3]) not in failing
    yield Loaded(world, cwd, failing)


def test_unhealthy_exit_code_lists_the_syncs(loaded: Loaded) -> None:
    result = syncruns("check", cwd=loaded.cwd)

    assert result.returncode == int(ExitCode.UNHEALTHY) == 6, result.stderr
    lines = result.stdout.strip().splitlines()
    total = len(loaded.world.syncs)
    assert lines[0] == (
        f"syncruns check: UNHEALTHY: {len(loaded.failing)} of {total} syncs crossed a threshold"
    )
    listed = {line.split()[2] for line in lines[1:]}
    assert listed == loaded.failing
    assert all(re.search(r": \d+ consecutive failures? \(max 0\)$", line) for line in lines[1:])


def test_json_output(loaded: Loaded) -> None:
    result = syncruns(
        "check", "--json", "--max-consecutive-failures", "0", "--stale-after", "30d", cwd=loaded.cwd
    )

    assert result.returncode == 6, result.stderr
    report = json.loads(result.stdout)
    assert report["healthy"] is False
    assert report["syncs_checked"] == len(loaded.world.syncs)
    assert report["thresholds"] == {
        "max_consecutive_failures": 0,
        "max_failure_rate": None,
        "stale_after_seconds": 30 * 86400.0,
        "window": "7d",
    }
    by_id = {entry["sync_id"]: entry for entry in report["unhealthy"]}
    assert set(by_id) == loaded.failing
    expected = truth(loaded.world, loaded.world.now)
    for sync_id, entry in by_id.items():
        assert entry["consecutive_failures"] == expected[sync_id]["consecutive_failures"]
        assert entry["problems"][0]["check"] == "consecutive_failures"
        assert entry["problems"][0]["threshold"] == 0
        assert entry["last_run_status"] == expected[sync_id]["last_run_status"]
    assert datetime.fromisoformat(report["checked_at"]) <= datetime.now(UTC)


def test_healthy_within_lenient_thresholds(loaded: Loaded) -> None:
    result = syncruns(
        "check", "--max-consecutive-failures", "1000", "--max-failure-rate", "100%", cwd=loaded.cwd
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"syncruns check: healthy ({len(loaded.world.syncs)} syncs checked)\n"


def test_check_without_data_names_what_to_run(tmp_path: Path) -> None:
    result = syncruns("check", "--json", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "syncruns: error: No DuckDB file 'census_syncruns.duckdb': run `syncruns run` first, "
        "or point --duckdb-path (or --pipeline-name) at your data\n"
    )
