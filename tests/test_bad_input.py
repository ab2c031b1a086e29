"""Bad input through the real `syncruns` console script: one line, the documented code, no harm.

Every case runs against a folder that already holds a good load (a DuckDB file and pipeline
state). The bad call must exit with the code the README documents, print exactly one
`syncruns: error:` line on stderr that names what to fix, and leave the pipeline state, the
schema and every table in the DuckDB file exactly as they were.

The good load is made once per module and copied back before each case, always to the same
path: dlt records the working directory in the local part of state.json on every run, so a copy
at another path would differ for a reason that has nothing to do with the bad call.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from census_simulator import Response, World
from tests.conftest import TOKEN
from tests.scripted import Scripted, ScriptedSimulator
from tests.test_cli import closed_port

SYNCRUNS = Path(sys.executable).parent / "syncruns"
PIPELINE = "census_syncruns"
DATASET = "census"
DATA_TABLES = ("sync_runs", "syncs", "sync_runs__sync_trigger_reason")

# Exit codes, as documented in the README ("Command line").
FAILED, BAD_INPUT, AUTH, UNREACHABLE = 1, 2, 3, 4

TOKEN_ENV = "SOURCES__CENSUS__API_KEY"
V2_TOKEN = "sim-pat"  # the simulator's default personal access token


class Touched(AssertionError):
    """The bad call changed the pipeline state, the schema or the loaded data."""


class Noisy(AssertionError):
    """stderr is not exactly one `syncruns: error:` line."""


@dataclass(frozen=True)
class Case:
    """One bad call: its arguments, environment and simulator script, and what it must print.

    In an argument, `{url}` is the simulator's API root, `{root}` its bare http://host:port and
    `{closed}` a loopback port nothing listens on. `--base-url {url}` is added unless the case
    sets its own or `with_url` is False.
    """

    args: tuple[str, ...]
    code: int
    says: tuple[str, ...]
    env: Mapping[str, str | None] = field(default_factory=dict)
    script: Callable[[], list[Scripted]] | None = None
    with_url: bool = True
    hold_lock: bool = False


def case(case_id: str, command: str, code: int, *says: str, marks: Any = (), **options: Any) -> Any:
    """A pytest.param for `Case`, with a readable id; `command` is split like a shell would."""
    return pytest.param(
        Case(tuple(shlex.split(command)), code, says, **options), id=case_id, marks=marks
    )


def token(value: str) -> dict[str, str | None]:
    """The environment override that sets the API token."""
    return {TOKEN_ENV: value}


def on_syncs_list(response: Response) -> Callable[[], list[Scripted]]:
    """A script answering every `GET /syncs` (the sync list) with `response`."""
    return lambda: [Scripted(lambda e: e.path.endswith("/syncs"), response, None)]


HTML = Response(200, b"<html>maintenance</html>", (("Content-Type", "text/html"),))
FORBIDDEN = Response(403, b'{"status": "error", "message": "Forbidden"}')
NO_DATA = Response(200, b'{"status": "success"}')
NO_PAGINATION = Response(200, b'{"status": "success", "data": []}')

TOKEN_KEYS = ("sources.census.api_key", TOKEN_ENV)
NO_TOKEN: dict[str, str | None] = {TOKEN_ENV: None}
BLANKS = "token contains blanks or non-ASCII characters"
CANNOT_OPEN = "Cannot open the DuckDB file"
FIX_PATH = "fix --duckdb-path"
HAS_PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")

CASES = [
    # --- the token
    case("token-missing", "run", BAD_INPUT, "No Census API key", *TOKEN_KEYS, env=NO_TOKEN),
    case("token-empty", "run", BAD_INPUT, "token is empty", *TOKEN_KEYS, env=token("")),
    case("token-whitespace", "run", BAD_INPUT, "token is empty", *TOKEN_KEYS, env=token(" \t ")),
    case("token-with-space", "run", BAD_INPUT, BLANKS, *TOKEN_KEYS, env=token("abc def")),
    case("token-with-newline", "run", BAD_INPUT, BLANKS, *TOKEN_KEYS, env=token("abc\ndef")),
    case("token-non-ascii", "run", BAD_INPUT, BLANKS, *TOKEN_KEYS, env=token("tökén-ünï")),
    case(
        "token-rejected-401", "run", AUTH, "rejected the API token (401)", "GET /syncs page 1",
        *TOKEN_KEYS, env=token("wrong-token-5d1e"),
    ),
    case(
        "token-forbidden-403", "run", AUTH, "refused access (403)", "GET /syncs page 1",
        *TOKEN_KEYS, script=on_syncs_list(FORBIDDEN),
    ),
    # --- the API version (issue 6)
    case(
        "api-version-unknown", "run --api-version v3", BAD_INPUT, "Unknown API version 'v3'",
        "set --api-version to",
    ),
    case(
        "group-id-on-v1", "run --group-id projected_sickle", BAD_INPUT,
        "--group-id applies only to API v2", "sources.census.api_version",
    ),
    case(
        "base-url-of-the-other-version", "run --api-version v2", BAD_INPUT,
        "--base-url ends with /api/v1 but --api-version is 'v2'",
    ),
    case(
        "workspace-token-on-v2", "run --api-version v2 --base-url {root}/api/v2", AUTH,
        "requires a personal access token", "set --api-version 'v1'", *TOKEN_KEYS,
    ),
    case(
        "personal-token-on-v1", "run", AUTH, "requires a workspace API token",
        "api_version = 'v2'", env=token(V2_TOKEN),
    ),
    case(
        "v2-group-unknown", "run --api-version v2 --base-url {root}/api/v2 --group-id nowhere",
        BAD_INPUT, "does not know group 'nowhere'", "fix --group-id (or group_ids), or remove it",
        env=token(V2_TOKEN),
    ),
    # --- where the API is
    case(
        "region-unknown", "run --region mars", BAD_INPUT, "Unknown region 'mars'",
        "set --region to", "'us' or 'eu'", with_url=False,
    ),
    case(
        "base-url-not-a-url", "run --base-url 'not a url'", BAD_INPUT,
        "--base-url 'not a url' is not a valid URL", "use https://",
    ),
    case(
        "base-url-port-out-of-range", "run --base-url https://census.example:99999/api",
        BAD_INPUT, "--base-url 'https://census.example:99999/api' is not a valid",
    ),
    case(
        "base-url-plain-http-off-loopback", "run --base-url http://example.com/api/v1",
        BAD_INPUT, "--base-url uses plain http:// to example.com", "use https://",
    ),
    case(
        "base-url-with-credentials", "run --base-url https://me:hunter2@example.com/api",
        BAD_INPUT, "--base-url must not carry credentials",
    ),
    case(
        "api-unreachable-closed-port", "run --base-url http://127.0.0.1:{closed}/api/v1",
        UNREACHABLE, "Cannot reach the Census API at 127.0.0.1", "check --base-url",
    ),
    case(
        "base-url-wrong-path-404", "run --base-url {root}/wrong/v1", FAILED,
        "GET /syncs page 1 answered 404", "check --base-url",
    ),
    # --- the backfill window
    case(
        "start-unparsable", "backfill --start 'last tuesday'", BAD_INPUT,
        "--start 'last tuesday' is not an ISO-8601", "2024-01-31",
    ),
    case(
        "start-impossible-day", "backfill --start 2024-02-30", BAD_INPUT,
        "--start '2024-02-30' is not an ISO-8601",
    ),
    case(
        "end-unparsable", "backfill --start 2024-01-01 --end someday", BAD_INPUT,
        "--end 'someday' is not an ISO-8601",
    ),
    case(
        "end-before-start", "backfill --start 2024-02-01 --end 2024-01-01", BAD_INPUT,
        "--end 2024-01-01", "is not after --start 2024-02-01",
    ),
    case(
        "end-equals-start", "backfill --start 2024-02-01 --end 2024-02-01T00:00Z", BAD_INPUT,
        "is not after --start",
    ),
    case(
        "start-in-future", "backfill --start 2999-01-01", BAD_INPUT,
        "--start 2999-01-01T00:00:00+00:00 is in the future",
    ),
    case("backfill-without-start", "backfill", BAD_INPUT, "--start"),
    case("unknown-flag", "run --sink x", BAD_INPUT, "--sink"),
    # --- sync ids
    case(
        "sync-id-unknown", "run --sync-id 1001 --sync-id 999999", BAD_INPUT,
        "sync id(s) 999999 not found", "fix --sync-id",
    ),
    case(
        "sync-id-non-numeric", "run --sync-id abc", BAD_INPUT,
        "sync id 'abc' is not a numeric", "fix --sync-id",
    ),
    case(
        "sync-id-empty", "run --sync-id ''", BAD_INPUT,
        "sync id '' is not a numeric", "fix --sync-id",
    ),
    case("sync-id-negative", "run --sync-id=-5", BAD_INPUT, "sync id '-5' is not a numeric"),
    # --- what the API answers on the sync list, after every retry
    case(
        "syncs-list-html-body", "run", FAILED, "GET /syncs page 1", "not JSON (text/html",
        "after every retry", script=on_syncs_list(HTML),
    ),
    case(
        "syncs-list-without-data", "run", FAILED, "GET /syncs page 1",
        "without the documented 'data' field", script=on_syncs_list(NO_DATA),
    ),
    case(
        "syncs-list-without-pagination", "run", FAILED, "GET /syncs page 1",
        "pagination.next_page", script=on_syncs_list(NO_PAGINATION),
    ),
    # --- the destination
    case(
        "destination-unknown", "run --destination nosuch", BAD_INPUT,
        "--destination 'nosuch' is not a dlt destination",
    ),
    case(
        "destination-extra-missing-mssql", "run --destination mssql", BAD_INPUT,
        'pip install "dlt[mssql]"',
    ),
    case(
        "destination-extra-missing-snowflake", "run --destination snowflake", BAD_INPUT,
        'pip install "dlt[snowflake]"',
    ),
    case(
        "destination-credentials-missing", "run --destination motherduck", BAD_INPUT,
        "destination.motherduck.credentials", "DESTINATION__MOTHERDUCK__CREDENTIALS",
    ),
    case(
        "report-destination-without-sql", "report --destination dummy", BAD_INPUT,
        "--destination dummy: dummy has no SQL client, so `syncruns report` cannot read it",
        with_url=False,
    ),
    case(
        "check-destination-without-sql", "check --destination dummy", BAD_INPUT,
        "--destination dummy: dummy has no SQL client, so `syncruns check` cannot read it",
        with_url=False,
    ),
    case(
        "duckdb-path-with-other-destination", "run --destination postgres --duckdb-path x.db",
        BAD_INPUT, "--duckdb-path applies only with --destination duckdb",
    ),
    # --- the dataset
    case(
        "dataset-invalid", "run --dataset bad-name!", BAD_INPUT,
        "--dataset 'bad-name!' is not a valid dataset name",
    ),
    case(
        "dataset-equals-duckdb-file", f"run --dataset {PIPELINE}", BAD_INPUT,
        f"--dataset '{PIPELINE}' equals the DuckDB file name '{PIPELINE}.duckdb'",
    ),
    # --- a pipeline that belongs to another source or dataset (issue 15)
    case(
        "pipeline-of-another-source",
        f"run --source hightouch --pipeline-name {PIPELINE} --duckdb-path {PIPELINE}.duckdb",
        BAD_INPUT, f"pipeline '{PIPELINE}'", "holds the cursors of source census, not hightouch",
        env={"SOURCES__HIGHTOUCH__API_KEY": "ht-key-not-used"},
    ),
    case(
        "pipeline-of-another-dataset", "run --dataset elsewhere", BAD_INPUT,
        "loads into dataset 'census', not 'elsewhere'", "--dataset census",
    ),
    case(
        "flag-the-command-does-not-take", "check --api-version v2", BAD_INPUT,
        "check does not take --api-version", with_url=False,
    ),
    # --- the DuckDB file
    case(
        "duckdb-path-folder-missing", "run --duckdb-path no/such/dir/x.duckdb", BAD_INPUT,
        "--duckdb-path folder 'no/such/dir' does not exist",
    ),
    case(
        "duckdb-path-under-a-file", f"run --duckdb-path {PIPELINE}.duckdb/x.duckdb", BAD_INPUT,
        "--duckdb-path folder", "does not exist",
    ),
    case(
        "duckdb-path-in-proc", "run --duckdb-path /proc/syncruns.duckdb", BAD_INPUT,
        CANNOT_OPEN, "/proc/syncruns.duckdb", FIX_PATH, marks=HAS_PROC,
    ),
    case(
        "duckdb-path-is-a-directory", "run --duckdb-path dlt_data", BAD_INPUT,
        CANNOT_OPEN, "dlt_data", FIX_PATH,
    ),
    case(
        "duckdb-path-not-a-database", "run --duckdb-path notes.txt", BAD_INPUT,
        CANNOT_OPEN, "not a valid DuckDB database", FIX_PATH,
    ),
    case(
        "duckdb-file-locked", "run", FAILED, "DuckDB file is in use by another process",
        f"{PIPELINE}.duckdb", hold_lock=True,
    ),
    case(
        "duckdb-memory-limit-invalid", "run --duckdb-memory-limit lots", BAD_INPUT,
        "Memory must have a number", "fix --duckdb-memory-limit",
    ),
    # --- source and runtime settings from the environment
    case(
        "concurrency-zero", "run", BAD_INPUT,
        "sources.census.concurrency must be between 1 and 64, not 0",
        env={"SOURCES__CENSUS__CONCURRENCY": "0"},
    ),
    case(
        "concurrency-too-high", "run", BAD_INPUT,
        "sources.census.concurrency must be between 1 and 64, not 65",
        env={"SOURCES__CENSUS__CONCURRENCY": "65"},
    ),
    case(
        "concurrency-not-a-number", "run", BAD_INPUT,
        "sources.census.concurrency (env SOURCES__CENSUS__CONCURRENCY) is not a valid int",
        env={"SOURCES__CENSUS__CONCURRENCY": "many"},
    ),
    case(
        "rate-limit-negative", "run", BAD_INPUT, "sources.census.rate_limit must be >= 0",
        env={"SOURCES__CENSUS__RATE_LIMIT": "-1"},
    ),
    case(
        "overlap-negative", "run", BAD_INPUT, "sources.census.overlap_seconds",
        env={"SOURCES__CENSUS__OVERLAP_SECONDS": "-5"},
    ),
    case(
        "request-attempts-not-a-number", "run", BAD_INPUT,
        "runtime.request_max_attempts (env RUNTIME__REQUEST_MAX_ATTEMPTS) is not a valid int",
        env={"RUNTIME__REQUEST_MAX_ATTEMPTS": "abc"},
    ),
]  # fmt: skip


@dataclass(frozen=True)
class Lab:
    """The simulator, the folder each case runs in, and the good load to restore it from."""

    sim: ScriptedSimulator
    work: Path
    pristine: Path


@dataclass(frozen=True)
class Snapshot:
    """Pipeline state, stored schemas, and every table of the dataset, row by row."""

    state: dict[str, Any]
    schemas: dict[str, Any]
    tables: dict[str, list[tuple[Any, ...]]]


def run_cli(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str | None] | None = None,
    program: Path = SYNCRUNS,
) -> subprocess.CompletedProcess[str]:
    """Run `syncruns` (or `program`) in `cwd` with dlt's data there and the simulator's token.

    `env` overrides the environment; a None value removes the variable.
    """
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))
    }
    environ.update(
        DLT_DATA_DIR=str(cwd / "dlt_data"),
        RUNTIME__REQUEST_MAX_ATTEMPTS="2",
        RUNTIME__REQUEST_BACKOFF_FACTOR="0",
        SOURCES__CENSUS__API_KEY=TOKEN,
    )
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return subprocess.run(
        [str(program), *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def snapshot(folder: Path) -> Snapshot:
    """Read the state, the schemas and the tables (DuckDB opened read-only)."""
    pipeline_dir = folder / "dlt_data" / "pipelines" / PIPELINE
    state = json.loads((pipeline_dir / "state.json").read_text())
    schemas = {
        path.name: json.loads(path.read_text())
        for path in sorted((pipeline_dir / "schemas").glob("*.json"))
    }
    with duckdb.connect(str(folder / f"{PIPELINE}.duckdb"), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "ORDER BY 1",
                [DATASET],
            ).fetchall()
        ]
        tables = {
            name: con.execute(f'SELECT * FROM {DATASET}."{name}" ORDER BY ALL').fetchall()
            for name in names
        }
    return Snapshot(state=state, schemas=schemas, tables=tables)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One good `syncruns run` into a folder, kept as the pristine copy for every case."""
    root = tmp_path_factory.mktemp("bad_input")
    work, pristine = root / "work", root / "pristine"
    work.mkdir()
    sim = ScriptedSimulator(World(seed=5, sync_run_counts=(3, 120, 0, 40)))
    sim.start()
    try:
        good = run_cli(["run", "--quiet", "--base-url", sim.base_url], cwd=work)
        assert good.returncode == 0, good.stderr
        (work / "notes.txt").write_text("plain text, not a DuckDB database\n")
        baseline = snapshot(work)
        for table in DATA_TABLES:
            assert baseline.tables.get(table), f"the good load left {table} empty"
        assert baseline.state["sources"]["census"]["resources"]["sync_runs"]["syncs"]
        shutil.copytree(work, pristine)
        yield Lab(sim=sim, work=work, pristine=pristine)
    finally:
        sim.stop()


@contextmanager
def locked(db_file: Path) -> Iterator[None]:
    """Hold a read-write DuckDB connection on `db_file` in another process."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(120)",
            str(db_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait(timeout=30)


def expand(args: tuple[str, ...], sim: ScriptedSimulator, with_url: bool) -> list[str]:
    """Fill in the simulator's URLs and add `--base-url` unless the case opts out."""
    urls = {"url": sim.base_url, "root": sim.root_url, "closed": closed_port()}
    filled = [arg.format(**urls) for arg in args]
    if with_url and "--base-url" not in filled:
        filled += ["--base-url", sim.base_url]
    return [*filled, "--quiet"]


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_fails_cleanly_and_touches_nothing(lab: Lab, bad: Case) -> None:
    """One error line naming the fix, the documented exit code, state and data untouched."""
    shutil.rmtree(lab.work)
    shutil.copytree(lab.pristine, lab.work)
    before = snapshot(lab.work)
    lab.sim.script = bad.script() if bad.script else []
    try:
        with locked(lab.work / f"{PIPELINE}.duckdb") if bad.hold_lock else nullcontext():
            result = run_cli(expand(bad.args, lab.sim, bad.with_url), lab.work, bad.env)
    finally:
        lab.sim.script = []
    after = snapshot(lab.work)

    assert result.returncode == bad.code, result.stderr
    assert "Traceback" not in result.stderr
    last_line = result.stderr.rstrip("\n").rsplit("\n", 1)[-1]
    for fragment in bad.says:
        assert fragment in last_line, f"{fragment!r} not in {last_line!r}"
    assert TOKEN not in result.stderr + result.stdout
    assert "hunter2" not in result.stderr + result.stdout  # a password in --base-url
    if after != before:
        raise Touched(_difference(before, after))
    lines = result.stderr.splitlines()
    if len(lines) != 1 or not lines[0].startswith("syncruns: error: "):
        raise Noisy(f"stderr is not one `syncruns: error:` line: {result.stderr!r}")
    assert result.stdout == ""


def _difference(before: Snapshot, after: Snapshot) -> str:
    """Which parts of the snapshot changed (for the failure message)."""
    parts = [name for name in ("state", "schemas") if getattr(before, name) != getattr(after, name)]
    parts += [
        f"table {name}"
        for name in sorted(set(before.tables) | set(after.tables))
        if before.tables.get(name) != after.tables.get(name)
    ]
    changed = {
        key
        for key in set(before.state) | set(after.state)
        if before.state.get(key) != after.state.get(key)
    }
    return f"changed: {', '.join(parts)}; state keys: {sorted(changed)}"
