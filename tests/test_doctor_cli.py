"""`syncruns doctor` run as a real process against the Census simulator."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from census_simulator import CensusSimulator, World
from tests.conftest import PERSONAL_TOKEN, TOKEN
from tests.test_cli import syncruns


@pytest.fixture
def sim() -> Iterator[CensusSimulator]:
    world = World(seed=5, sync_run_counts=(3, 120, 0, 40))
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as served:
        yield served


def test_doctor_on_a_good_setup_exits_0_and_names_each_origin(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    result = syncruns("doctor", "--base-url", sim.base_url, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "✓ token" in out and "✓ destination" in out and out.rstrip().endswith("API requests")
    assert (
        "api_key        workspace API token, 20 characters  [env SOURCES__CENSUS__API_KEY]" in out
    )
    assert f"{sim.base_url}  [flag --base-url]" in out
    assert TOKEN not in out + result.stderr
    assert not (tmp_path / "census_syncruns.duckdb").exists()  # nothing left behind
    assert len(sim.requests) <= 6


def test_doctor_json_on_a_wrong_token_exits_3(tmp_path: Path, sim: CensusSimulator) -> None:
    result = syncruns("doctor", "--base-url", sim.base_url, "--json", cwd=tmp_path, token="bad")
    assert result.returncode == 3, result.stderr
    document = json.loads(result.stdout)
    assert document["ready"] is False and document["exit_code"] == 3
    token = next(row for row in document["checks"] if row["name"] == "token")
    assert token["status"] == "fail" and "sources.census.api_key" in token["fix"]


def test_doctor_names_the_config_file_a_setting_came_from(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    settings = tmp_path / ".dlt"
    settings.mkdir()
    (settings / "config.toml").write_text('[sources.census]\napi_version = "v2"\n')
    (settings / "secrets.toml").write_text(f'[sources.census]\napi_key = "{PERSONAL_TOKEN}"\n')
    result = syncruns("doctor", "--base-url", sim.base_url_v2, cwd=tmp_path, token=None)
    assert result.returncode == 0, result.stdout + result.stderr
    config = (settings / "config.toml").resolve()
    assert f"api_version    v2  [file {config} [sources.census.api_version]]" in result.stdout
    secrets = (settings / "secrets.toml").resolve()
    assert f"[file {secrets} [sources.census.api_key]]" in result.stdout
    assert PERSONAL_TOKEN not in result.stdout + result.stderr


def test_doctor_of_a_workspace_token_on_v2_says_which_kind_it_is(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    result = syncruns("doctor", "--base-url", sim.base_url_v2, "--api-version", "v2", cwd=tmp_path)
    assert result.returncode == 3
    assert "✗ token" in result.stdout and "it is a workspace API token" in result.stdout
    assert "NOT ready (exit 3)" in result.stdout
