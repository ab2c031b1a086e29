"""The `syncruns` CLI with API v2, `--records`, and the v1 retirement warning."""

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from census_simulator import CensusSimulator, World
from pipelines.census_pipeline import main
from tests.conftest import PERSONAL_TOKEN, TOKEN
from tests.test_cli import SYNCRUNS, summary_value, syncruns
from tests.test_records import RETENTION, record_truth, world_ending_now


def test_run_over_v2_with_records_reports_them(tmp_path: Path) -> None:
    world = world_ending_now(seed=2)
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        before = datetime.now(UTC)
        result = syncruns(
            "run", "--quiet", "--api-version", "v2", "--base-url", sim.base_url_v2, "--records",
            cwd=tmp_path, token=PERSONAL_TOKEN,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected, runs, expired = record_truth(world, before - RETENTION, id_of=str)
    assert summary_value(result.stdout, "records loaded") == sum(expected.values())
    assert summary_value(result.stdout, "runs w/ records") == len(runs)
    assert f"Records of {len(expired):,} runs are past Census's retention" in result.stdout
    assert "WARNING" not in result.stdout


@pytest.fixture
def v1_served() -> CensusSimulator:
    return CensusSimulator(World(seed=5, sync_run_counts=(3, 40)), token=TOKEN)


@pytest.mark.parametrize(
    ("today", "version", "warned"),
    [
        (datetime(2026, 12, 1, tzinfo=UTC), "v1", False),
        (datetime(2026, 12, 20, tzinfo=UTC), "v1", True),
        (datetime(2026, 12, 20, tzinfo=UTC), "v2", False),
    ],
)
def test_v1_runs_carry_a_warning_from_mid_december(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    v1_served: CensusSimulator,
    today: datetime,
    version: str,
    warned: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("SOURCES__CENSUS__API_KEY", TOKEN if version == "v1" else "sim-pat")
    with v1_served as sim, time_machine.travel(today, tick=True):
        base = sim.base_url if version == "v1" else sim.base_url_v2
        code = main(["run", "--quiet", "--api-version", version, "--base-url", base])
    out = capsys.readouterr().out
    assert code == 0
    warning = "WARNING: Census API v1 will be retired on 2027-01-15: switch to v2"
    assert (warning in out) is warned


def test_demo_and_report_use_the_file_in_this_folder(tmp_path: Path) -> None:
    """dlt resolves a relative DuckDB path in the folder of a pipeline's first run; the demo
    and report must still mean the file in the folder they are run from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env["DLT_DATA_DIR"] = str(tmp_path / "shared_dlt_data")  # one machine, one dlt data dir
    for folder in ("first", "second"):
        (tmp_path / folder).mkdir()
        result = subprocess.run(
            [str(SYNCRUNS), "demo", "--quiet"], cwd=tmp_path / folder, env=env,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert (tmp_path / folder / "census_syncruns_demo.duckdb").is_file()
        report = subprocess.run(
            [str(SYNCRUNS), "report", "--duckdb-path", "census_syncruns_demo.duckdb"],
            cwd=tmp_path / folder, env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert report.returncode == 0, report.stderr
        assert "8 syncs" in report.stdout


def test_v2_with_region_eu_goes_to_the_eu_host_not_the_us_one(tmp_path: Path) -> None:
    """No base URL: the EU v2 root is used (no network here: the one line names the host)."""
    result = syncruns("run", "--quiet", "--api-version", "v2", "--region", "eu",
                      cwd=tmp_path, token=PERSONAL_TOKEN, timeout=120)  # fmt: skip
    assert result.returncode in (3, 4), result.stderr  # unreachable here; refused with internet
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "at app-eu.getcensus.com" in lines[0], result.stderr
    assert "app.getcensus.com" not in result.stderr and PERSONAL_TOKEN not in result.stderr


def test_repeated_group_id_loads_each_group_into_one_dataset(tmp_path: Path) -> None:
    world = World(seed=5, sync_run_counts=(3, 40, 7, 12), groups=("north_wind", "south_sea", "x"))
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as sim:
        result = syncruns(
            "run", "--quiet", "--api-version", "v2", "--base-url", sim.base_url_v2,
            "--group-id", "south_sea", "--group-id", "north_wind", cwd=tmp_path,
            token=PERSONAL_TOKEN,
        )  # fmt: skip
        listed = [r.query.get("group_id") for r in sim.requests if r.path == "/api/v2/syncs"]
    assert result.returncode == 0, result.stderr
    assert listed == ["south_sea", "north_wind"]
    wanted = [s for s in world.syncs if world.group_of(s["id"]) != "x"]
    assert summary_value(result.stdout, "syncs") == len(wanted)
    runs = sum(len(world.runs_of(s["id"])) for s in wanted)
    assert summary_value(result.stdout, "runs new") == runs


def test_v2_paths_and_group_ids_from_config_toml(tmp_path: Path) -> None:
    """The escape hatch as a user writes it: `.dlt/config.toml`, read by dlt's config injection."""
    from census_simulator.v2 import MOVED_V2_PATHS, V2Variant

    world = World(seed=5, sync_run_counts=(3, 40, 7), groups=("north_wind", "south_sea"))
    variant = V2Variant(paths=MOVED_V2_PATHS, requires_group_id=True)
    paths = "\n".join(f'{name} = "{path}"' for name, path in MOVED_V2_PATHS.items())
    (tmp_path / ".dlt").mkdir()
    (tmp_path / ".dlt" / "config.toml").write_text(
        '[sources.census]\napi_version = "v2"\ngroup_ids = ["north_wind", "south_sea"]\n\n'
        f"[sources.census.v2_paths]\n{paths}\n"
    )
    with CensusSimulator(
        world, token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_variant=variant
    ) as sim:
        result = syncruns("run", "--quiet", "--base-url", sim.base_url_v2, cwd=tmp_path,
                          token=PERSONAL_TOKEN)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert summary_value(result.stdout, "syncs") == len(world.syncs)
    assert summary_value(result.stdout, "runs new") == world.run_count
