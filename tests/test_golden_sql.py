"""The views' SQL for every dialect: the golden files under sql/ are what the code generates,
each parses back in its dialect, and none keeps a construct its engine lacks."""

import re

import pytest
import sqlglot

from pipelines.golden_sql import HEADER, ROOT, expected_files, golden_bodies, main
from pipelines.sql_dialects import DIALECTS

VIEWS = ("sync_health", "sync_run_daily", "sync_run_errors")
# what no dialect's SQL may keep: an unrendered primitive, FILTER (absent on SQLite before
# 3.30, MySQL, SQL Server, BigQuery...), an aggregate percentile (absent on SQLite, MySQL,
# BigQuery, Athena), a day interval (follows the session's DST where it has one)
NOWHERE = (
    r"syncruns_",
    r"\bFILTER\s*\(",
    r"PERCENTILE_|QUANTILE|MEDIAN\(",
    r"INTERVAL[^,)]*DAY|DATEADD\(DAY|\d+ days'",
)
# and per dialect, what sqlglot would have written but means something else there
NOT_IN = {
    "tsql": (r"GETDATE\(", r"\bINTERVAL\b", r"\bLIMIT\b", r"\bORDER BY r\.created_at"),
    "fabric": (r"GETDATE\(", r"\bINTERVAL\b"),
    "sqlite": (r"AT TIME ZONE", r"\bINTERVAL\b", r"CURRENT_TIMESTAMP", r"AS TIMESTAMP"),
    "mysql": (r"AT TIME ZONE", r"CURRENT_TIMESTAMP", r"\bNOW\("),
    "clickhouse": (r"AT TIME ZONE",),
    "postgres": (r"TIMESTAMPDIFF",),
    "bigquery": (r"AT TIME ZONE",),
}


def test_golden_files_are_what_the_code_generates() -> None:
    stale = [
        str(path.relative_to(ROOT.parent))
        for path, text in expected_files().items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run `python -m pipelines.golden_sql`: {stale} differ"
    on_disk = {path for path in ROOT.rglob("*.sql")}
    assert on_disk == set(expected_files()), "files under sql/ that the code no longer makes"
    assert {path.parent.name for path in on_disk} == set(DIALECTS)


def test_the_check_command_names_a_stale_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    path = ROOT / "duckdb" / "sync_health.sql"
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original.replace("COALESCE", "IFNULL", 1), encoding="utf-8")
        assert main(["--check"]) == 1
    finally:
        path.write_text(original, encoding="utf-8")
    assert capsys.readouterr().err == "sql/duckdb/sync_health.sql differs from the code\n"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_each_file_parses_back_in_its_dialect(dialect: str) -> None:
    bodies = golden_bodies(dialect)
    for view in VIEWS:
        text = (ROOT / dialect / f"{view}.sql").read_text(encoding="utf-8")
        assert text.startswith(HEADER)
        (statement,) = sqlglot.parse(text[len(HEADER) :], read=dialect)
        assert statement is not None
        generated = sqlglot.parse_one(bodies[view], read=dialect)
        assert statement.sql(dialect=dialect) == generated.sql(dialect=dialect), view
        for pattern in (*NOWHERE, *NOT_IN.get(dialect, ())):
            assert not re.search(pattern, bodies[view], re.IGNORECASE), (view, pattern)
