"""`syncruns report` in a terminal: full statuses, columns aligned by display width, and no
control or bidi character of a sync's name or error text reaching the terminal raw."""

import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import wcwidth
from hypothesis import given, settings
from hypothesis import strategies as st

from files_com_simulator import FilesComSimulator
from files_com_simulator import World as FilesComWorld
from pipelines.report import LABEL_COLUMNS, HealthData, render_terminal, visible

SYNCRUNS = Path(sys.executable).parent / "syncruns"
KEY = "report-text-key-3b8e"
# what may reach the terminal of the characters that move, recolor or reorder it
RAW_ALLOWED = frozenset({"\n", "\u200c", "\u200d"})
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def syncruns(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    env.update(DLT_DATA_DIR=str(cwd / "dlt_data"), SOURCES__FILES_COM__API_KEY=KEY)
    return subprocess.run(
        [str(SYNCRUNS), *args, "--source", "files_com", "--quiet"],
        cwd=cwd, env=env, capture_output=True, encoding="utf-8", timeout=180, check=False,
    )  # fmt: skip


def unsafe(text: str) -> list[str]:
    """The characters of `text` that must not reach a terminal raw."""
    return [
        char
        for char in text
        if char not in RAW_ALLOWED and unicodedata.category(char) in UNSAFE_CATEGORIES
    ]


def columns_of(line: str) -> int:
    """Display width of `line`, grapheme by grapheme (as terminals that cluster draw it)."""
    return sum(wcwidth.width(grapheme) for grapheme in wcwidth.iter_graphemes(line))


def spans(rule: str) -> list[tuple[int, int]]:
    """(start, end) display columns of each run of dashes in the table's rule line."""
    found, start = [], None
    for column, char in enumerate(rule + " "):
        if char == "-" and start is None:
            start = column
        elif char != "-" and start is not None:
            found.append((start, column))
            start = None
    return found


def cells(line: str, columns: Sequence[tuple[int, int]]) -> list[str]:
    """`line` cut at display columns: what the terminal shows in each of `columns`.

    A grapheme that straddles a column edge makes the line misaligned: it fails here. One
    of no width is drawn on the column before it.
    """
    placed: list[tuple[int, str]] = []  # (display column, grapheme)
    at = 0
    for grapheme in wcwidth.iter_graphemes(line):
        size = wcwidth.width(grapheme)
        placed.append((at if size or not at else at - 1, grapheme))  # no width: on the last
        at += size
    out = []
    for start, end in columns:
        inside = [(col, g) for col, g in placed if start <= col < end]
        for col, grapheme in inside:
            assert col + wcwidth.width(grapheme) <= end, f"{grapheme!r} crosses column {end}"
        before = [g for col, g in placed if col < start and col + wcwidth.width(g) > start]
        assert not before, f"{before!r} crosses column {start}"
        out.append("".join(g for _, g in inside).strip())
    return out


@dataclass
class Sync:
    label: str  # the sync's name on the site
    shown: str  # its label cell as the report shows it
    status: str  # of its newest run


LONG = "AB" + "長" * 30  # 62 columns: cut after 18 wide characters, as 2 + 36 + "…" = 39
SYNCS = (
    Sync("客户 to Salesforce Contacts", "客户 to Salesforce Contacts", "partial_failure"),
    Sync("Churn risk 📉 to Slack", "Churn risk 📉 to Slack", "in_progress"),
    Sync("Cafe\u0301 me\u0301tier to S3", "Cafe\u0301 me\u0301tier to S3", "failure"),
    Sync("invoice\u202efdp.exe", "invoice\\u202efdp.exe", "success"),
    Sync(
        "\x1b[31mred\x1b[0m \u2066x\u2069\u200f",
        "\\x1b[31mred\\x1b[0m \\u2066x\\u2069\\u200f",
        "skipped",
    ),
    Sync(LONG, "AB" + "長" * 18 + "…", "waiting_for_remote_server_quota"),  # nobody documents it
)
ERROR_BODY = "\x1b[2J\x1b]0;pwned\x07 \u202eelif ruoy fo tsal\u202c: 3 files failed"


@dataclass
class Report:
    world: FilesComWorld
    stdout: str


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    """Files.com runs with odd sync names loaded by `syncruns run`, then `syncruns report`."""
    now = datetime.now(UTC).replace(microsecond=0)
    world = FilesComWorld(seed=3, sync_run_counts=(0,) * len(SYNCS), start=now, stuck_open=0)
    for sync_id, sync in zip(world.sync_ids, SYNCS, strict=True):
        world.add_run(sync_id, sync_name=sync.label, status="success",
                      created_at=now - timedelta(hours=3))  # fmt: skip
        body = {"body": ERROR_BODY} if sync.status in ("failure", "partial_failure") else {}
        world.add_run(sync_id, sync_name=sync.label, status=sync.status,
                      created_at=now - timedelta(hours=1), **body)  # fmt: skip
    cwd = tmp_path_factory.mktemp("report_text")
    with FilesComSimulator(world, api_key=KEY) as sim:
        loaded = syncruns("run", "--base-url", sim.base_url, cwd=cwd)
    assert loaded.returncode == 0, loaded.stderr
    result = syncruns("report", cwd=cwd)
    assert (result.returncode, result.stderr) == (0, "")
    yield Report(world, result.stdout)


def table(stdout: str) -> list[str]:
    """The header, the rule and the sync rows of the report."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("sync "))
    end = lines.index("", start)
    return lines[start:end]


def test_statuses_and_labels_are_shown_whole_in_aligned_columns(report: Report) -> None:
    header, rule, *rows = table(report.stdout)
    columns = spans(rule)

    assert len(columns) == 12
    assert cells(header, columns)[:5] == ["sync", "label", "runs", "last run", "status"]
    # every line as wide as the rule, counted character by character as well (wcswidth)
    assert {wcwidth.wcswidth(line) for line in (header, *rows)} == {wcwidth.wcswidth(rule)}
    by_sync = {cells(row, columns)[0]: cells(row, columns) for row in rows}
    for sync_id, sync in zip(report.world.sync_ids, SYNCS, strict=True):
        row = by_sync[f"files_com {sync_id}"]
        assert (row[1], row[2], row[4]) == (sync.shown, "2", sync.status)
    assert wcwidth.wcswidth(SYNCS[-1].shown) == 39 <= LABEL_COLUMNS  # cut by display width


def test_no_control_or_bidi_character_reaches_the_terminal(report: Report) -> None:
    assert unsafe(report.stdout) == []
    errors = report.stdout.split("Latest errors:\n")[1].splitlines()
    assert len(errors) == 2
    for line in errors:
        assert "\\x1b[2J\\x1b]0;pwned\\x07 \\u202eelif ruoy fo tsal\\u202c: 3 files" in line


# --- the renderer alone, over arbitrary text ---------------------------------------------

NASTY = (
    "\u202e", "\u200f", "\u2066", "\u2069", "\x1b", "\x9b", "\x07", "\t", "\r", "\n", "\u2028",
    "\u200d", "\u200c", "\u0301", "\u20e3", "\ufe0f", "\U0001f468", "\U0001f1e9", "\u1100",
    "\u1161", "\u0d4e", "\u0600", "客", "\U000e0067", "\u00ad", "\ud800", "…", "-", " ",
)  # fmt: skip
TEXT = st.text(st.one_of(st.characters(), st.sampled_from(NASTY)), max_size=60)
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def health_row(sync_id: str, label: str | None, status: str | None) -> dict[str, Any]:
    return {
        "source": "census",
        "sync_id": sync_id,
        "sync_label": label,
        "runs": 12_345,
        "last_run_at": NOW - timedelta(minutes=5),
        "last_run_status": status,
        "last_success_at": None,
        "consecutive_failures": 3,
        "failure_rate_7d": 0.25,
        "failure_rate_30d": None,
        "records_failed_7d": 7,
        "p50_duration_s": 12.0,
        "p95_duration_s": 900.0,
        "failed_runs_30d": 4,
    }


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TEXT, st.none() | TEXT, st.none() | TEXT), min_size=1, max_size=5))
def test_any_text_renders_aligned_and_escaped(syncs: list[tuple[str, Any, Any]]) -> None:
    rows = [health_row(sync_id, label, status) for sync_id, label, status in syncs]
    error = {"created_at": NOW, "source": "census", "sync_id": syncs[0][0],
             "error_code": syncs[0][2], "error_message": syncs[0][1]}  # fmt: skip
    data = HealthData("dataset 'census' on duckdb", NOW, rows, [], [error])

    text = render_terminal(data)

    assert unsafe(text) == []
    assert len(text.splitlines()) == 2 + 2 + len(rows) + 3 + 3
    header, rule, *lines = text.splitlines()[2 : 4 + len(rows)]
    assert {columns_of(line) for line in (header, *lines)} == {columns_of(rule)}
    columns = spans(rule)
    assert len(columns) == 12
    for line, row in zip(lines, rows, strict=True):
        shown = cells(line, columns)
        assert shown[4] == visible(row["last_run_status"] or "-").strip()  # whole, never cut
        label = visible(row["sync_label"] or "").strip()
        assert shown[1] == label or (
            shown[1].endswith("…") and wcwidth.width(shown[1]) <= LABEL_COLUMNS
        )
        assert shown[2:4] == ["12,345", "5m ago"] and shown[-1] == "15m"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),  # RTL override
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),  # ESC sequence
        ("a\u200fb\u2066c\u2069\u00ad", "a\\u200fb\\u2066c\\u2069\\xad"),  # marks, isolates
        ("tab\there\nnext\u2028\x9b\x7f", "tab\\there\\nnext\\u2028\\x9b\\x7f"),
        ("\ud800", "\\ud800"),  # a lone surrogate would make print() raise
        ("\u0301accent", "\u25cc\u0301accent"),  # else it lands on the space before the cell
        ("reph\u0d4e", "reph\\u0d4e"),  # else it joins the space after the cell
        (
            "family 👨\u200d👩\u200d👧, \u0632\u0646\u200c\u0647\u0627",
            "family 👨\u200d👩\u200d👧, \u0632\u0646\u200c\u0647\u0627",
        ),
        ("客户 Käufer Cafe\u0301 📉", "客户 Käufer Cafe\u0301 📉"),
    ],
)
def test_odd_characters_are_shown_as_escapes(text: str, shown: str) -> None:
    assert visible(text) == shown
