"""The Census API token appears nowhere: output, DEBUG logs, errors, dlt's files, tables.

A recognisable token loads a workspace (DEBUG logs, `--debug`), a recognisable wrong token is
rejected (401, traceback shown), and one sync fails after every retry (partial load). After
each, every file under the test folder (pipeline state, trace pickle, load packages with their
gzip and parquet files decoded, the DuckDB file), every table in the DuckDB file, and the
output of `dlt pipeline <name> info` / `trace` are searched for both tokens. A canary planted
in the data shows that the same searches do reach the places where data is written.
"""

import gzip
import io
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from census_simulator import CensusSimulator, Fault, RequestLogEntry, Response, World
from census_source import census_source
from pipelines.exit_codes import causes, classify
from tests.test_bad_input import TOKEN_ENV, run_cli

SECRET = "SECRET-TOKEN-7f3c9e1d"
WRONG = "WRONG-TOKEN-4b8d2a6e"  # rejected with 401, and must not leak either
TOKENS = (SECRET, WRONG)
CANARY = "CANARY-9a7b3c15"  # planted in a run's error_message: must be found where data goes
PIPELINE = "census_syncruns"
DLT = Path(sys.executable).parent / "dlt"

Hits = dict[str, list[str]]  # needle -> where it was found


class OutageSimulator(CensusSimulator):
    """The simulator, where the runs endpoint of sync `down` (if set) always answers 503."""

    down: int | None = None

    def fault_for(self, entry: RequestLogEntry) -> Fault | Response | None:
        if self.down is not None and entry.path.endswith(f"/syncs/{self.down}/sync_runs"):
            return Response(503, b'{"status": "error"}')
        return None


# --------------------------------------------------------------------------- the searches
def count_in(needle: str, data: bytes) -> int:
    """Occurrences of `needle` in `data`, as UTF-8 or UTF-16 (either byte order)."""
    return sum(data.count(needle.encode(codec)) for codec in ("utf-8", "utf-16-le", "utf-16-be"))


def decoded_forms(path: Path) -> Iterator[tuple[str, bytes]]:
    """The file's bytes, plus its content decompressed (gzip) or decoded (parquet) if it is so."""
    raw = path.read_bytes()
    yield str(path), raw
    if raw.startswith(b"\x1f\x8b"):
        yield f"{path} (gunzipped)", gzip.decompress(raw)
    if raw.startswith(b"PAR1") and raw.endswith(b"PAR1"):
        rows = pq.read_table(io.BytesIO(raw)).to_pylist()
        yield f"{path} (parquet rows)", repr(rows).encode()


def search_files(root: Path, needles: Iterable[str]) -> Hits:
    """Where each needle occurs in the files under `root`, recursively."""
    hits: Hits = {needle: [] for needle in needles}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for label, data in decoded_forms(path):
            for needle in hits:
                if count_in(needle, data):
                    hits[needle].append(label)
    return hits


def search_tables(db_file: Path, needles: Iterable[str]) -> Hits:
    """Where each needle occurs in the rows of every table of a DuckDB file, cast to text."""
    hits: Hits = {needle: [] for needle in needles}
    with duckdb.connect(str(db_file), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY ALL"
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'SELECT CAST(t AS VARCHAR) FROM "{schema}"."{table}" AS t')
            text = "\n".join(row[0] for row in rows.fetchall())
            for needle in hits:
                if needle in text:
                    hits[needle].append(f"{db_file.name}: {schema}.{table}")
    return hits


def search_text(label: str, text: str, needles: Iterable[str]) -> Hits:
    """Where each needle occurs in one captured text."""
    return {needle: [label] if needle in text else [] for needle in needles}


def merged(*results: Hits) -> Hits:
    """All hits of several searches, per needle."""
    total: Hits = {}
    for result in results:
        for needle, places in result.items():
            total.setdefault(needle, []).extend(places)
    return total


def leaks(hits: Hits) -> Hits:
    """Only the needles that were found somewhere."""
    return {needle: places for needle, places in hits.items() if places}


# --------------------------------------------------------------------------- positive controls
def test_searches_find_a_token_wherever_it_is_written(tmp_path: Path) -> None:
    """Positive control: the searches find the token in every form they claim to read."""
    (tmp_path / "plain.txt").write_text(f"Authorization: Bearer {SECRET}\n")
    (tmp_path / "wide.txt").write_bytes(f"x{SECRET}x".encode("utf-16"))
    (tmp_path / "job.insert_values.gz").write_bytes(gzip.compress(f"('{SECRET}')".encode()))
    pq.write_table(pa.table({"note": [SECRET]}), tmp_path / "job.parquet", compression="zstd")
    db_file = tmp_path / "t.duckdb"
    with duckdb.connect(str(db_file)) as con:
        con.execute("CREATE SCHEMA s; CREATE TABLE s.t (n INT, note VARCHAR)")
        con.execute("INSERT INTO s.t SELECT i, 'x' || i FROM range(50000) r(i)")
        con.execute("INSERT INTO s.t VALUES (-1, ?)", [f"... {SECRET} ..."])

    found = search_files(tmp_path, [SECRET, "never-written-0d5e"])
    for name in ("plain.txt", "wide.txt", "job.insert_values.gz (gunzipped)", "job.parquet"):
        assert any(place.endswith(name) or f"{name} (" in place for place in found[SECRET]), name
    assert found["never-written-0d5e"] == []
    assert search_tables(db_file, [SECRET])[SECRET] == ["t.duckdb: s.t"]
    assert leaks(search_text("stderr", f"token={SECRET}", TOKENS)) == {SECRET: ["stderr"]}


# --------------------------------------------------------------------------- the runs
def dlt_cli_output(cwd: Path, env: dict[str, str | None]) -> Iterator[tuple[str, str]]:
    """`dlt pipeline <name> info -vv` and `trace -v` on the CLI's pipeline, with their output."""
    for command in (["info", "-vv"], ["trace", "-v"]):
        result = run_cli(["pipeline", PIPELINE, *command], cwd, env, program=DLT)
        assert result.returncode == 0, result.stderr
        yield f"dlt pipeline {' '.join(command)}", result.stdout + result.stderr


def every_artefact(cwd: Path, env: dict[str, str | None], needles: Iterable[str]) -> Hits:
    """Search the files under `cwd`, the DuckDB tables and dlt's own view of the pipeline."""
    needles = list(needles)
    cli = [search_text(label, text, needles) for label, text in dlt_cli_output(cwd, env)]
    return merged(
        search_files(cwd, needles), search_tables(cwd / f"{PIPELINE}.duckdb", needles), *cli
    )


def test_token_appears_in_no_output_log_file_trace_or_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A good, a rejected and a partial run leave neither token anywhere; the canary is found."""
    world = World(seed=5, sync_run_counts=(3, 120, 0, 40))
    planted = world.runs_of(world.syncs[1]["id"])[7]["id"]
    world.update_run(planted, error_message=f"disk full ({CANARY})")
    env: dict[str, str | None] = {TOKEN_ENV: SECRET, "RUNTIME__LOG_LEVEL": "DEBUG"}
    captured: list[Hits] = []
    sim = OutageSimulator(world, token=SECRET)
    sim.start()
    try:
        url = ["--base-url", sim.base_url]

        good = run_cli(["run", "--debug", *url], tmp_path, env)
        assert good.returncode == 0, good.stderr
        assert "|[DEBUG]|" in good.stderr  # the DEBUG logs were on
        captured.append(search_text("good run output", good.stdout + good.stderr, TOKENS))
        captured.append(every_artefact(tmp_path, env, [*TOKENS, CANARY]))

        rejected = run_cli(["run", "--debug", *url], tmp_path, {**env, TOKEN_ENV: WRONG})
        assert rejected.returncode == 3, rejected.stderr
        assert "Traceback" in rejected.stderr and "CensusAuthError" in rejected.stderr
        captured.append(search_text("401 output", rejected.stdout + rejected.stderr, TOKENS))
        captured.append(every_artefact(tmp_path, env, TOKENS))

        world.advance(seconds=3600, new_runs_per_sync=2)
        sim.down = world.syncs[1]["id"]
        partial = run_cli(["run", "--debug", *url], tmp_path, env)
        assert partial.returncode == 5, partial.stderr
        assert f"sync {sim.down}: Census API kept answering 503" in partial.stdout
        captured.append(search_text("partial output", partial.stdout + partial.stderr, TOKENS))

        exception_text = in_process_rejection(tmp_path / "in_process", sim, monkeypatch)
        captured.append(search_text("in-process exception and trace", exception_text, TOKENS))
        final = every_artefact(tmp_path, env, [*TOKENS, CANARY])
        captured.append(final)
    finally:
        sim.stop()

    everything = merged(*captured)
    assert leaks({token: everything[token] for token in TOKENS}) == {}
    # the canary planted in the data was found by each search that reads data
    assert any(f"{PIPELINE}.duckdb: census.sync_runs" == p for p in final[CANARY])
    assert any("completed_jobs" in p and "(parquet rows)" in p for p in final[CANARY])
    assert SECRET in env.values()  # and the token really was handed to the process


def in_process_rejection(
    folder: Path, sim: CensusSimulator, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Run in-process with the wrong token from config; return the error's text and the trace."""
    monkeypatch.setenv(TOKEN_ENV, WRONG)
    pipeline = dlt.pipeline(
        pipeline_name="secrets_in_process",
        pipelines_dir=str(folder / "pipelines"),
        destination=dlt.destinations.duckdb(str(folder / "in_process.duckdb")),
        dataset_name="census",
    )
    with pytest.raises(PipelineStepFailed) as raised:
        pipeline.run(census_source(base_url=sim.base_url))
    error = raised.value
    assert classify(error)[0] == 3
    texts = ["".join(traceback.format_exception(error)), classify(error)[1]]
    texts += [f"{cause!s}\n{cause!r}\n{vars(cause)!r}" for cause in causes(error)]
    trace = pipeline.last_trace
    assert trace is not None
    texts += [str(trace), repr(trace.asdict()), repr(trace.resolved_config_values)]
    assert_api_key_traced_as_secret(trace.resolved_config_values)
    return "\n".join(texts)


def assert_api_key_traced_as_secret(resolved: Iterable[object]) -> None:
    """dlt's trace lists sources.census.api_key as a secret, with its value dropped."""
    entries = [
        value
        for value in resolved
        if getattr(value, "key", None) == "api_key" and "census" in getattr(value, "sections", ())
    ]
    assert entries, "the trace does not list sources.census.api_key"
    for entry in entries:
        assert getattr(entry, "is_secret_hint", False) is True
        assert getattr(entry, "value", "missing") is None
        assert getattr(entry, "default_value", "missing") is None


def test_cli_trace_marks_the_configured_token_secret(tmp_path: Path) -> None:
    """The CLI's stored trace and `dlt pipeline trace` show the config-supplied token redacted."""
    world = World(seed=5, sync_run_counts=(3, 40))
    env: dict[str, str | None] = {TOKEN_ENV: SECRET}
    with CensusSimulator(world, token=SECRET) as sim:
        result = run_cli(["run", "--quiet", "--base-url", sim.base_url], tmp_path, env)
    assert result.returncode == 0, result.stderr
    attached = dlt.attach(PIPELINE, pipelines_dir=str(tmp_path / "dlt_data" / "pipelines"))
    assert attached.last_trace is not None
    assert_api_key_traced_as_secret(attached.last_trace.resolved_config_values)
    shown = run_cli(["pipeline", PIPELINE, "trace", "-v"], tmp_path, env, program=DLT)
    assert "`sources.census.api_key` = <secret> from `Environment Variables`" in shown.stdout
    assert SECRET not in shown.stdout + shown.stderr
