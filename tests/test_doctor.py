"""`census_source.doctor.diagnose()` on the Census simulator: a good setup, then each problem."""

import json
import os
import uuid
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from census_simulator import CensusSimulator, Quirks, World
from census_simulator.v2 import MOVED_V2_PATHS, V2Variant
from census_source.doctor import diagnose
from pipelines.doctor_report import DoctorReport, Status
from tests.conftest import PERSONAL_TOKEN, TOKEN, source_for
from tests.test_cli import closed_port

MAX_REQUESTS = 6


@pytest.fixture
def sim() -> Any:
    world = World(seed=11, groups=["grp_a", "grp_b"])
    with CensusSimulator(world, token=TOKEN, personal_access_token=PERSONAL_TOKEN) as served:
        yield served


def check(tmp_path: Path, sim: CensusSimulator, **options: Any) -> DoctorReport:
    """diagnose() on the simulator, with its DuckDB file and pipelines in `tmp_path`."""
    options.setdefault("api_key", TOKEN)
    options.setdefault("base_url", sim.base_url)
    options.setdefault("destination", dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")))
    sim.reset_log()
    return diagnose(pipelines_dir=str(tmp_path / "pipelines"), **options)


def statuses(report: DoctorReport) -> dict[str, str]:
    return {row.name: row.status.value for row in report.ordered}


def failed(report: DoctorReport) -> list[str]:
    return [row.name for row in report.ordered if row.status is Status.FAIL]


def line(report: DoctorReport, name: str) -> str:
    """The rendered ✗/✓ line of one check (and its fix line)."""
    lines = report.render().splitlines()
    index = next(i for i, text in enumerate(lines) if text.split()[1:2] == [name])
    return "\n".join(lines[index : index + 2])


def load_v1(tmp_path: Path, sim: CensusSimulator, name: str = "census_syncruns") -> None:
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")),
        dataset_name="census",
    )
    pipeline.run(source_for(sim))


def test_a_good_v1_setup_is_ready_in_a_few_requests(tmp_path: Path, sim: CensusSimulator) -> None:
    report = check(tmp_path, sim)
    assert report.ready and report.exit_code == 0, report.render()
    assert statuses(report) == {
        "settings": "ok",
        "host": "ok",
        "token": "ok",
        "listing": "ok",
        "scope": "note",
        "runs": "ok",
        "rate_limit": "note",
        "destination": "ok",
        "state": "note",
    }
    assert "newest first" in report.check("runs").message  # type: ignore[union-attr]
    assert len(sim.requests) == report.requests <= MAX_REQUESTS
    assert TOKEN not in report.render() and TOKEN not in report.to_json()
    key = next(setting for setting in report.settings if setting.name == "api_key")
    assert (key.secret_kind, key.secret_length) == ("workspace API token", len(TOKEN))
    assert not (tmp_path / "doctor.duckdb").exists()  # the probe leaves no file behind


def test_a_good_v2_setup_reports_the_groups_the_token_sees(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    report = check(
        tmp_path, sim, api_key=PERSONAL_TOKEN, base_url=sim.base_url_v2, api_version="v2"
    )
    assert report.ready, report.render()
    scope = report.check("scope")
    assert scope is not None and "grp_a (4 syncs), grp_b (4 syncs)" in scope.message
    assert len(sim.requests) <= MAX_REQUESTS
    narrowed = check(
        tmp_path,
        sim,
        api_key=PERSONAL_TOKEN,
        base_url=sim.base_url_v2,
        api_version="v2",
        group_id="grp_b",
    )
    assert narrowed.ready and "group(s) grp_b: grp_b (4 syncs)" in line(narrowed, "scope")
    unknown = check(
        tmp_path,
        sim,
        api_key=PERSONAL_TOKEN,
        base_url=sim.base_url_v2,
        api_version="v2",
        group_id="grp_x",
    )
    assert failed(unknown) == ["scope"] and unknown.exit_code == 2
    assert "sources.census.group_id" in line(unknown, "scope")


def test_a_wrong_token_is_a_token_failure_exit_3(tmp_path: Path, sim: CensusSimulator) -> None:
    report = check(tmp_path, sim, api_key="not-the-token")
    assert failed(report) == ["token"] and report.exit_code == 3
    text = line(report, "token")
    assert "✗ token" in text and "rejected the API token (401)" in text
    assert "fix: set a valid workspace API token in sources.census.api_key" in text
    assert len(sim.requests) == 2  # the sync list, then the same token tried on v2
    assert "not-the-token" not in report.render() + report.to_json()


def test_a_workspace_token_sent_to_v2_is_named_as_such(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    report = check(tmp_path, sim, base_url=sim.base_url_v2, api_version="v2")
    assert failed(report) == ["token"] and report.exit_code == 3
    text = line(report, "token")
    assert "API v1 accepts it: it is a workspace API token" in text
    assert "API v2 takes a personal access token" in text
    assert "--api-version v1" in text
    assert len(sim.requests) == 2


def test_a_personal_access_token_sent_to_v1_is_named_as_such(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    report = check(tmp_path, sim, api_key=PERSONAL_TOKEN)
    assert failed(report) == ["token"] and report.exit_code == 3
    assert "it is a personal access token, and API v1 takes a workspace API token" in line(
        report, "token"
    )


def test_an_unreachable_host_exits_4(tmp_path: Path) -> None:
    report = diagnose(
        api_key=TOKEN,
        base_url=f"http://127.0.0.1:{closed_port()}/api/v1",
        destination=dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")),
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    assert failed(report) == ["host"] and report.exit_code == 4
    assert "cannot connect to 127.0.0.1" in line(report, "host")
    assert statuses(report)["token"] == "skip"


def test_a_host_that_does_not_resolve_exits_4_without_a_request(tmp_path: Path) -> None:
    report = diagnose(
        api_key=TOKEN,
        base_url="https://no-such-host.invalid/api/v1",
        destination=dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")),
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    assert failed(report) == ["host"] and report.exit_code == 4
    assert "no-such-host.invalid does not resolve" in line(report, "host")
    assert report.requests == 0


def test_bad_settings_exit_2_and_skip_the_api(tmp_path: Path, sim: CensusSimulator) -> None:
    report = check(tmp_path, sim, api_version="v3")
    assert failed(report) == ["settings"] and report.exit_code == 2
    assert "Unknown API version 'v3'" in line(report, "settings")
    assert len(sim.requests) == 0


def test_a_destination_that_is_not_writable_exits_2(tmp_path: Path, sim: CensusSimulator) -> None:
    path = tmp_path / "readonly.duckdb"
    load_v1(tmp_path, sim, "other_pipeline")  # makes the file doctor.duckdb
    (tmp_path / "doctor.duckdb").rename(path)
    credentials = DuckDbCredentials(str(path), read_only=True)
    report = check(tmp_path, sim, destination=dlt.destinations.duckdb(credentials))
    assert failed(report) == ["destination"] and report.exit_code == 2
    text = line(report, "destination")
    assert "reachable but not writable" in text and "read-only" in text


def test_runs_in_the_wrong_order_fail_the_runs_check(tmp_path: Path) -> None:
    world = World(seed=11)
    quirks = Quirks(ignore_order=True)
    with CensusSimulator(world, token=TOKEN, quirks=quirks) as sim:
        report = check(tmp_path, sim)
    assert failed(report) == ["runs"] and report.exit_code == 1
    text = line(report, "runs")
    assert "runs did not come newest first" in text and "ignores order=desc" in text


def test_state_of_another_source_is_refused(tmp_path: Path, sim: CensusSimulator) -> None:
    from hightouch_simulator import HightouchSimulator
    from hightouch_simulator import World as HightouchWorld
    from hightouch_source import hightouch_source

    pipeline = dlt.pipeline(
        pipeline_name="shared",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")),
        dataset_name="census",
    )
    with HightouchSimulator(HightouchWorld(seed=3), token="ht") as ht:
        pipeline.run(hightouch_source(api_key="ht", base_url=ht.base_url))
    report = check(tmp_path, sim, pipeline_name="shared")
    assert failed(report) == ["state"] and report.exit_code == 2
    text = line(report, "state")
    assert "holds the cursors of source hightouch, not census" in text
    assert "--pipeline-name census_syncruns" in text


def test_state_of_another_dataset_is_refused(tmp_path: Path, sim: CensusSimulator) -> None:
    load_v1(tmp_path, sim)
    report = check(tmp_path, sim, dataset_name="census_copy")
    assert failed(report) == ["state"] and report.exit_code == 2
    assert "loads into dataset 'census', not 'census_copy'" in line(report, "state")


def test_v1_state_checked_with_v2_continues_from_the_cursors(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    load_v1(tmp_path, sim)
    same = check(tmp_path, sim)
    assert same.ready and "4 syncs continue from their cursors" in line(same, "state")
    report = check(
        tmp_path,
        sim,
        api_key=PERSONAL_TOKEN,
        base_url=sim.base_url_v2,
        api_version="v2",
        group_id="grp_a",
    )
    assert report.ready, report.render()
    text = line(report, "state")
    assert "dataset loaded with API v1" in text
    assert "4 syncs continue from their cursors: the switch to API v2 continues there" in text
    assert "ids numeric strings, stored as bigint" in line(report, "runs")
    assert len(sim.requests) <= MAX_REQUESTS


def test_v2_ids_that_do_not_fit_a_v1_dataset_stop_before_loading(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    load_v1(tmp_path, sim)
    sim.v2_id_style = "opaque"  # "sync_1000": what a v1 dataset's integer ids cannot hold
    report = check(
        tmp_path, sim, api_key=PERSONAL_TOKEN, base_url=sim.base_url_v2, api_version="v2"
    )
    assert failed(report) == ["runs", "state"] and report.exit_code == 2
    assert "non-numeric id 'sync_1000'" in line(report, "runs")
    state = line(report, "state")
    assert "stores ids as integers" in state and "--dataset census_v2" in state


def test_v2_ids_on_a_new_dataset_are_fine_whatever_their_style(
    tmp_path: Path, sim: CensusSimulator
) -> None:
    sim.v2_id_style = "opaque"
    report = check(
        tmp_path, sim, api_key=PERSONAL_TOKEN, base_url=sim.base_url_v2, api_version="v2"
    )
    assert report.ready, report.render()
    assert "ids strings such as 'run_" in line(report, "runs")


def test_json_has_the_documented_shape(tmp_path: Path, sim: CensusSimulator) -> None:
    document = json.loads(check(tmp_path, sim, api_key="wrong").to_json())
    assert set(document) == {
        "doctor",
        "source",
        "ready",
        "exit_code",
        "requests",
        "settings",
        "checks",
    }
    assert (document["doctor"], document["source"], document["ready"]) == (1, "census", False)
    assert document["exit_code"] == 3
    for row in document["checks"]:
        assert set(row) == {"name", "status", "message", "fix", "exit_code"}
        assert row["status"] in {"ok", "note", "warn", "fail", "skip"}
    for setting in document["settings"]:
        assert set(setting) == {"name", "value", "origin", "where", "secret"}
    key = next(setting for setting in document["settings"] if setting["name"] == "api_key")
    assert key == {
        "name": "api_key",
        "value": None,
        "origin": "argument",
        "where": None,
        "secret": {"kind": "workspace API token", "length": 5},
    }


def test_settings_say_which_env_var_set_them(
    tmp_path: Path, sim: CensusSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__CENSUS__API_KEY", TOKEN)
    monkeypatch.setenv("SOURCES__CENSUS__BASE_URL", sim.base_url)
    sim.reset_log()
    report = diagnose(
        destination=dlt.destinations.duckdb(str(tmp_path / "doctor.duckdb")),
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    assert report.ready, report.render()
    where = {setting.name: (setting.origin, setting.where) for setting in report.settings}
    assert where["api_key"] == ("env", "SOURCES__CENSUS__API_KEY")
    assert where["base_url"] == ("env", "SOURCES__CENSUS__BASE_URL")
    assert where["group_id"] == ("default", None)


POSTGRES_DSN = os.environ.get("SYNCRUNS_TEST_POSTGRES_DSN")


def test_postgres_destination_is_checked_writable(tmp_path: Path, sim: CensusSimulator) -> None:
    if not POSTGRES_DSN:
        if os.environ.get("CI"):
            pytest.fail("SYNCRUNS_TEST_POSTGRES_DSN is not set: .ci/run starts PostgreSQL")
        pytest.skip("no PostgreSQL: set SYNCRUNS_TEST_POSTGRES_DSN (see .ci/postgres.sh)")
    dataset = f"syncruns_doctor_{uuid.uuid4().hex[:10]}"
    report = check(
        tmp_path, sim, destination=dlt.destinations.postgres(POSTGRES_DSN), dataset_name=dataset
    )
    assert report.ready, report.render()
    assert "postgres dataset" in line(report, "destination")
    assert "created it with a scratch table, then dropped both" in line(report, "destination")


# ---------------------------------------------------------------- each v2 assumption broken

VARIANT_GROUPS = ("north_wind", "south_sea")
EU_TOKEN = "sim-pat-eu-77c1d0"


def variant_world() -> World:
    return World(seed=5, sync_run_counts=(3, 120, 0, 7, 40), groups=VARIANT_GROUPS)


def fix_of(report: DoctorReport, name: str) -> str:
    row = report.check(name)
    assert row is not None and row.fix is not None, report.render()
    return row.fix


def one_line(report: DoctorReport, name: str) -> str:
    """The ✗ line of `name`: one line that names the problem and its fix."""
    text = line(report, name).splitlines()[0]
    assert text.lstrip().startswith(f"✗ {name}"), report.render()
    assert TOKEN not in text and PERSONAL_TOKEN not in text and EU_TOKEN not in text
    return text


def test_moved_v2_paths_fail_the_listing_naming_v2_paths(tmp_path: Path) -> None:
    variant = V2Variant(paths=MOVED_V2_PATHS)
    with CensusSimulator(
        variant_world(), token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_variant=variant
    ) as sim:
        v2 = {"api_key": PERSONAL_TOKEN, "base_url": sim.base_url_v2, "api_version": "v2"}
        report = check(tmp_path, sim, **v2)
        assert failed(report) == ["listing"] and report.exit_code == 2, report.render()
        text = one_line(report, "listing")
        assert "404 on GET /syncs" in text and "set sources.census.v2_paths.syncs" in text
        assert "sources.census.v2_paths.syncs" in fix_of(report, "listing")
        assert "group-id" not in fix_of(report, "listing")
        assert len(sim.requests) == report.requests == 1

        fixed = check(tmp_path, sim, v2_paths=dict(MOVED_V2_PATHS), **v2)
        assert fixed.ready, fixed.render()
        assert len(sim.requests) == fixed.requests <= MAX_REQUESTS


def test_only_the_v2_runs_path_moved_fails_the_runs_naming_v2_paths(tmp_path: Path) -> None:
    variant = V2Variant(paths={"sync_runs": MOVED_V2_PATHS["sync_runs"]})
    with CensusSimulator(
        variant_world(), token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_variant=variant
    ) as sim:
        report = check(
            tmp_path, sim, api_key=PERSONAL_TOKEN, base_url=sim.base_url_v2, api_version="v2"
        )
        assert failed(report) == ["runs"], report.render()
        assert "sources.census.v2_paths.sync_runs" in fix_of(report, "runs")
        assert len(sim.requests) == report.requests <= MAX_REQUESTS


def test_group_id_required_fails_the_scope_naming_group_id_and_where_to_find_it(
    tmp_path: Path,
) -> None:
    variant = V2Variant(requires_group_id=True)
    with CensusSimulator(
        variant_world(), token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_variant=variant
    ) as sim:
        v2 = {"api_key": PERSONAL_TOKEN, "base_url": sim.base_url_v2, "api_version": "v2"}
        report = check(tmp_path, sim, **v2)
        assert failed(report) == ["scope"] and report.exit_code == 2, report.render()
        text = one_line(report, "scope")
        assert "needs a group id for GET /syncs page 1" in text
        assert "sources.census.group_id" in text and "--group-id" in text
        assert "Destination Group ID" in text
        fix = fix_of(report, "scope")
        assert "sources.census.group_id" in fix and "--group-id" in fix
        assert "Destination Group ID" in fix and "a group the token sees" not in fix
        assert len(sim.requests) == report.requests == 1

        fixed = check(tmp_path, sim, group_id="south_sea", **v2)
        assert fixed.ready, fixed.render()
        assert len(sim.requests) == fixed.requests <= MAX_REQUESTS


@pytest.mark.parametrize("status", [410, 404, 401])
def test_v1_retired_fails_the_listing_saying_to_switch_to_v2(tmp_path: Path, status: int) -> None:
    with CensusSimulator(variant_world(), token=TOKEN, v1_retired_status=status) as sim:
        report = check(tmp_path, sim)
        assert failed(report) == ["listing"] and report.exit_code == 2, report.render()
        text = one_line(report, "listing")
        assert text.split("listing", 1)[1].strip().startswith("Census API v1 is retired")
        assert "--api-version v2" in text and "rejected the API token" not in text
        assert "--api-version v2" in fix_of(report, "listing")
        assert statuses(report)["token"] == "skip"  # not "accepted": v1 answered nothing
        assert len(sim.requests) == report.requests == 1


def test_a_token_of_the_other_regions_host_names_that_host(tmp_path: Path) -> None:
    with CensusSimulator(
        variant_world(),
        personal_access_token=PERSONAL_TOKEN,
        foreign_tokens={EU_TOKEN: "app-eu.getcensus.com"},
    ) as sim:
        report = check(tmp_path, sim, api_key=EU_TOKEN, base_url=sim.base_url_v2, api_version="v2")
        assert failed(report) == ["token"] and report.exit_code == 3, report.render()
        assert "belongs to app-eu.getcensus.com" in one_line(report, "token")
        assert "--region" in fix_of(report, "token")
        assert len(sim.requests) == report.requests <= MAX_REQUESTS


@pytest.mark.parametrize("style", ["integer", "string"])
def test_numeric_v2_ids_fit_a_new_and_a_v1_dataset(tmp_path: Path, style: str) -> None:
    with CensusSimulator(
        variant_world(), token=TOKEN, personal_access_token=PERSONAL_TOKEN, v2_id_style=style
    ) as sim:
        v2 = {"api_key": PERSONAL_TOKEN, "base_url": sim.base_url_v2, "api_version": "v2"}
        kind = "integers" if style == "integer" else "numeric strings"
        fresh = check(tmp_path, sim, **v2)
        assert fresh.ready, fresh.render()
        assert f"ids {kind}, stored as text" in line(fresh, "runs")
        load_v1(tmp_path, sim)
        moved = check(tmp_path, sim, **v2)
        assert moved.ready, moved.render()
        assert f"ids {kind}, stored as bigint" in line(moved, "runs")
        assert "the switch to API v2 continues there" in line(moved, "state")
        assert len(sim.requests) == moved.requests <= MAX_REQUESTS


# ------------------------------------------------- a token of the other region's host (v2)


@pytest.fixture
def regions(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Two simulators standing in for the US and EU hosts: the region roots point at them, so
    `--region` resolves (through resolve_base_url) as in production, only to loopback."""
    from census_source import v2_facts
    from census_source.settings import REGION_BASE_URLS

    with (
        CensusSimulator(
            World(seed=9),
            token=TOKEN,
            personal_access_token=PERSONAL_TOKEN,
            foreign_tokens={EU_TOKEN: "app-eu.getcensus.com"},
        ) as us,
        CensusSimulator(
            World(seed=8, sync_run_counts=(4, 30)), personal_access_token=EU_TOKEN
        ) as eu,
    ):
        for region, sim in (("us", us), ("eu", eu)):
            monkeypatch.setitem(v2_facts.V2_ROOTS, region, sim.base_url_v2)
            monkeypatch.setitem(REGION_BASE_URLS, region, sim.base_url)
        yield us, eu


def test_a_token_of_the_eu_host_sent_to_us_says_set_region_eu(tmp_path: Path, regions: Any) -> None:
    us, eu = regions
    eu.reset_log()
    report = check(tmp_path, us, api_key=EU_TOKEN, base_url=None, region="us", api_version="v2")
    assert failed(report) == ["token"] and report.exit_code == 3, report.render()
    text = one_line(report, "token")
    assert f"this token belongs to 127.0.0.1:{eu.port}: set --region eu" in text
    assert f"at 127.0.0.1:{us.port} (region us)" in text
    assert "--region eu" in fix_of(report, "token")
    assert (len(us.requests), len(eu.requests)) == (1, 1) and report.requests == 2

    us.reset_log()
    back = check(tmp_path, eu, api_key=PERSONAL_TOKEN, base_url=None, region="eu", api_version="v2")
    assert failed(back) == ["token"], back.render()
    assert f"this token belongs to 127.0.0.1:{us.port}: set --region us" in line(back, "token")
    assert back.requests == 2 <= MAX_REQUESTS

    ready = check(tmp_path, eu, api_key=EU_TOKEN, base_url=None, region="eu", api_version="v2")
    assert ready.ready, ready.render()


def test_a_token_no_region_takes_is_a_plain_token_failure(tmp_path: Path, regions: Any) -> None:
    us, eu = regions
    eu.reset_log()
    report = check(tmp_path, us, api_key="sim-pat-nobody", base_url=None, api_version="v2")
    assert failed(report) == ["token"] and report.exit_code == 3, report.render()
    assert "belongs to" not in line(report, "token")
    assert "fix: set a valid personal access token" in line(report, "token")
    # the US sync list, the EU one, then v1 on the US host
    assert (len(us.requests), len(eu.requests), report.requests) == (2, 1, 3)
