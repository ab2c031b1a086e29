"""`--source census|hightouch|files_com`: each loads through the CLI, and the health views of
every source's dataset show all three, with a `source` column."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from census_simulator import CensusSimulator
from census_simulator import World as CensusWorld
from census_source.timestamps import parse_timestamp
from files_com_simulator import FilesComSimulator
from files_com_simulator import World as FilesComWorld
from hightouch_simulator import HightouchSimulator
from hightouch_simulator import World as HightouchWorld

SYNCRUNS = Path(sys.executable).parent / "syncruns"
KEY = "multi-source-key-5e1f"
# each source's statuses -> the views' outcome (README "Monitoring your syncs")
OUTCOMES = {
    "census": {"completed": "success", "failed": "failure", "skipped": "skipped"},
    "hightouch": {
        "success": "success",
        "warning": "success",
        "failed": "failure",
        "interrupted": "failure",
        "cancelled": "skipped",
    },
    "files_com": {
        "success": "success",
        "failure": "failure",
        "partial_failure": "failure",
        "skipped": "skipped",
    },
}


DUCKDB = ("--duckdb-path", "all.duckdb")
DSN = os.environ.get("SYNCRUNS_TEST_POSTGRES_DSN")
DATASETS = ("census", "hightouch", "files_com")


def syncruns(
    *args: str, cwd: Path, env_key: str, where: tuple[str, ...] = DUCKDB
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(DLT_DATA_DIR=str(cwd / "dlt_data"), RUNTIME__REQUEST_BACKOFF_FACTOR="0")
    if DSN:
        env["DESTINATION__POSTGRES__CREDENTIALS"] = DSN
    env[env_key] = KEY
    return subprocess.run(
        [str(SYNCRUNS), *args, "--quiet", *where],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """All three sources loaded into one DuckDB file; yields each source's true runs."""
    yield load_all(tmp_path, DUCKDB)


def load_all(tmp_path: Path, where: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Load the three sources' simulators through the CLI; returns each source's true runs."""
    census = CensusWorld(seed=5, sync_run_counts=(3, 40, 0))
    hightouch = HightouchWorld(seed=5, sync_run_counts=(4, 30))
    files_com = FilesComWorld(seed=5, sync_run_counts=(5, 25))
    with (
        CensusSimulator(census, token=KEY) as c,
        HightouchSimulator(hightouch, token=KEY) as h,
        FilesComSimulator(files_com, api_key=KEY) as f,
    ):
        for source, url, env_key in (
            ("census", c.base_url, "SOURCES__CENSUS__API_KEY"),
            ("hightouch", h.base_url, "SOURCES__HIGHTOUCH__API_KEY"),
            ("files_com", f.base_url, "SOURCES__FILES_COM__API_KEY"),
        ):
            result = syncruns("run", "--source", source, "--base-url", url, cwd=tmp_path,
                              env_key=env_key, where=where)  # fmt: skip
            assert result.returncode == 0, result.stderr
    return {
        "census": [_common(r, "sync_id", "created_at") for r in census.ground_truth_runs()],
        "hightouch": [_common(r, "syncId", "createdAt") for r in hightouch.ground_truth_runs()],
        "files_com": [_common(r, "sync_id", "created_at") for r in files_com.ground_truth_runs()],
    }


def _common(run: dict[str, Any], sync_key: str, created_key: str) -> dict[str, Any]:
    return {
        "sync_id": str(run[sync_key]),
        "run_id": str(run["id"]),
        "status": run["status"],
        "created_at": parse_timestamp(run[created_key]),
    }


def expected_health(truth: dict[str, list[dict[str, Any]]]) -> set[tuple[Any, ...]]:
    """(source, sync_id, runs, last status, consecutive failures) computed from ground truth."""
    rows = set()
    for source, runs in truth.items():
        by_sync: dict[str, list[dict[str, Any]]] = {}
        for run in runs:
            by_sync.setdefault(run["sync_id"], []).append(run)
        for sync_id, sync_runs in by_sync.items():
            newest = sorted(
                sync_runs,
                key=lambda r: (r["created_at"], len(r["run_id"]), r["run_id"]),
                reverse=True,
            )
            streak = 0
            for run in newest:
                outcome = OUTCOMES[source].get(run["status"], "open")
                if outcome == "success":
                    break
                streak += outcome == "failure"
            rows.add((source, sync_id, len(sync_runs), newest[0]["status"], streak))
    return rows


def health_rows(db: Path, dataset: str) -> set[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            tuple(row)
            for row in con.execute(
                "SELECT source, sync_id, runs, last_run_status, consecutive_failures "
                f"FROM {dataset}.sync_health WHERE runs > 0"
            ).fetchall()
        }


def test_every_dataset_shows_every_source(
    tmp_path: Path, loaded: dict[str, list[dict[str, Any]]]
) -> None:
    expected = expected_health(loaded)
    assert {row[0] for row in expected} == {"census", "hightouch", "files_com"}
    for dataset in ("census", "hightouch", "files_com"):
        assert health_rows(tmp_path / "all.duckdb", dataset) == expected, dataset


def test_report_names_each_source(tmp_path: Path, loaded: dict[str, list[dict[str, Any]]]) -> None:
    result = syncruns("report", "--source", "hightouch", cwd=tmp_path, env_key="UNUSED")
    assert result.returncode == 0, result.stderr
    for source in ("census", "hightouch", "files_com"):
        assert f"\n{source} " in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ("run", "--source", "hightouch", "--records"),
            "--records applies only to --source census",
        ),
        (("run", "--source", "files_com", "--sync-id", "3"), "--sync-id does not apply"),
        (("run", "--source", "files_com", "--api-version", "v2"), "--api-version applies only"),
        (("run", "--source", "nope"), "invalid choice: 'nope'"),
    ],
)
def test_flags_of_other_sources_are_refused(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    result = syncruns(*args, cwd=tmp_path, env_key="SOURCES__HIGHTOUCH__API_KEY")
    assert result.returncode == 2
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("source", ["hightouch", "files_com"])
def test_demo_of_each_source_keeps_the_other_datasets(tmp_path: Path, source: str) -> None:
    first = syncruns("demo", cwd=tmp_path, env_key="UNUSED")
    assert first.returncode == 0, first.stderr
    result = syncruns("demo", "--source", source, cwd=tmp_path, env_key="UNUSED")
    assert result.returncode == 0, result.stderr
    assert "syncruns demo (incremental, one simulated hour later): done" in result.stdout
    with duckdb.connect(str(tmp_path / "all.duckdb"), read_only=True) as con:
        counts = dict(
            con.execute(f"SELECT source, count(*) FROM {source}.sync_health GROUP BY 1").fetchall()
        )
        census_runs = con.execute("SELECT count(*) FROM census.sync_runs").fetchall()[0][0]
    assert set(counts) == {"census", source}
    assert census_runs == 2846  # the census demo's data is still there (seed 7)


def on_postgres(tmp_path: Path, dataset: str) -> dlt.Pipeline:
    """A pipeline object used only for its SQL client on one dataset of the test server."""
    return dlt.pipeline(
        pipeline_name=f"reader_{dataset}",
        pipelines_dir=str(tmp_path / "readers"),
        destination=dlt.destinations.postgres(str(DSN)),
        dataset_name=dataset,
    )


@pytest.fixture
def postgres_datasets(tmp_path: Path) -> Iterator[None]:
    """The three default datasets on the test server, dropped before and after."""
    if not DSN:
        if os.environ.get("CI"):
            pytest.fail("SYNCRUNS_TEST_POSTGRES_DSN is not set: .ci/run starts PostgreSQL")
        pytest.skip("no PostgreSQL: set SYNCRUNS_TEST_POSTGRES_DSN (see .ci/postgres.sh)")

    def drop() -> None:
        with on_postgres(tmp_path, "census").sql_client() as client:
            for dataset in DATASETS:
                client.execute_sql(f"DROP SCHEMA IF EXISTS {dataset} CASCADE")
                client.execute_sql(f"DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")

    drop()
    yield
    drop()


def test_every_dataset_shows_every_source_on_postgres(
    tmp_path: Path, postgres_datasets: None
) -> None:
    expected = expected_health(load_all(tmp_path, ("--destination", "postgres")))
    for dataset in DATASETS:
        with on_postgres(tmp_path, dataset).sql_client() as client:
            rows = client.execute_sql(
                "SELECT source, sync_id, runs, last_run_status, consecutive_failures "
                f"FROM {client.make_qualified_table_name('sync_health')} WHERE runs > 0"
            )
        assert {tuple(row) for row in rows or []} == expected, dataset


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("source", "env_key"),
    [("hightouch", "SOURCES__HIGHTOUCH__API_KEY"), ("files_com", "SOURCES__FILES_COM__API_KEY")],
)
def test_each_source_exits_3_on_a_refused_key_and_4_when_unreachable(
    tmp_path: Path, source: str, env_key: str
) -> None:
    """Only Census errors had their documented exit codes; the others exited 1."""
    sim: HightouchSimulator | FilesComSimulator = (
        HightouchSimulator(HightouchWorld(seed=5), token="other0key1")
        if source == "hightouch"
        else FilesComSimulator(FilesComWorld(seed=5), api_key="other0key1")
    )
    with sim:
        refused = syncruns("run", "--source", source, "--base-url", sim.base_url, cwd=tmp_path,
                           env_key=env_key)  # fmt: skip
    assert refused.returncode == 3, refused.stderr
    assert "rejected the API key" in refused.stderr and KEY not in refused.stderr
    root = "/api/v1" if source == "hightouch" else "/api/rest/v1"
    gone = f"http://127.0.0.1:{closed_port()}{root}"
    unreachable = syncruns("run", "--source", source, "--base-url", gone, cwd=tmp_path,
                           env_key=env_key)  # fmt: skip
    assert unreachable.returncode == 4, unreachable.stderr
    assert unreachable.stderr.startswith("syncruns: error: Cannot reach")


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("hightouch", "No Hightouch API key: set sources.hightouch.api_key in .dlt/secrets.toml "
                      "or env SOURCES__HIGHTOUCH__API_KEY"),
        ("files_com", "No Files.com API key: set sources.files_com.api_key in .dlt/secrets.toml "
                      "or env SOURCES__FILES_COM__API_KEY"),
    ],
)  # fmt: skip
def test_a_missing_key_names_the_source_it_is_for(tmp_path: Path, source: str, says: str) -> None:
    """A missing Hightouch key was reported as "No Census API token"."""
    result = syncruns("run", "--source", source, "--base-url", "http://127.0.0.1:9/api/v1",
                      cwd=tmp_path, env_key="UNUSED")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"syncruns: error: {says}"


def test_sync_ids_of_check_and_report_are_those_of_the_source_given(
    tmp_path: Path, loaded: dict[str, list[dict[str, Any]]]
) -> None:
    """`check --source hightouch --sync-id 1001` checked Census sync 1001 too (ids collide)."""
    shared = sorted(
        {r["sync_id"] for r in loaded["census"]} & {r["sync_id"] for r in loaded["hightouch"]}
    )[0]
    strict = ("--max-consecutive-failures", "0", "--max-failure-rate", "0")
    for source in ("hightouch", "census"):
        result = syncruns("check", "--source", source, "--sync-id", shared, "--json", *strict,
                          cwd=tmp_path, env_key="UNUSED")  # fmt: skip
        assert result.returncode in (0, 6), result.stderr
        document = json.loads(result.stdout)
        assert document["syncs_checked"] == 1
        assert {row["source"] for row in document["unhealthy"]} <= {source}
    only_census = sorted({r["sync_id"] for r in loaded["census"]} - {shared})
    missing = [i for i in only_census if i not in {r["sync_id"] for r in loaded["hightouch"]}]
    if missing:
        other = syncruns("report", "--source", "hightouch", "--sync-id", missing[0],
                         cwd=tmp_path, env_key="UNUSED")  # fmt: skip
        assert other.returncode == 2, other.stderr
        assert f"--sync-id {missing[0]}: no such hightouch sync in dataset" in other.stderr
