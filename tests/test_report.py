"""`syncruns report`: the terminal table, the self-contained HTML page, Chromium rendering it."""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import duckdb
import pytest

from census_simulator import CensusSimulator, World
from census_source.timestamps import parse_timestamp
from pipelines.health_views import create_health_views
from pipelines.report import HealthData, fit, read_health, render_terminal, width
from pipelines.report_html import BAR_COLOR, CHART_DAYS, LINE_COLORS, render_html
from tests.conftest import TOKEN
from tests.health_truth import expected_daily, expected_errors, expected_health, recent_world
from tests.png import count_near, hex_color, read_pixels
from tests.test_cli import syncruns
from tests.test_health_views import NOW, crafted_world, load

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def crafted(pipeline: dlt.Pipeline) -> tuple[World, HealthData]:
    world = crafted_world()
    load(world, pipeline)
    create_health_views(pipeline, now=NOW)
    return world, read_health(pipeline, now=NOW)


def table_lines(text: str, sync_id: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"census {sync_id} ")]


def test_terminal_report_shows_each_sync_worst_first(crafted: tuple[World, HealthData]) -> None:
    world, data = crafted
    text = render_terminal(data)

    expected = expected_health(world.ground_truth_runs(), world.ground_truth_syncs(), NOW)
    ids = [str(s["id"]) for s in world.syncs]
    empty, open_only, streak = ids[:3]
    rows = [line for line in text.splitlines() if line.startswith("census ")]
    order = [line.split()[1] for line in rows[: len(ids)]]
    assert sorted(order) == sorted(ids)
    streaks = [expected[("census", sync)]["consecutive_failures"] for sync in order]
    assert streaks == sorted(streaks, reverse=True)  # failing syncs first
    (line,) = table_lines(text, streak)
    assert re.search(r"\s2\s+66\.7%\s+60\.0%\s+7\s", line), line
    (line,) = table_lines(text, open_only)
    assert "cancelling" in line and re.search(r"\s0\s+-\s+-\s+0\s+-\s+-$", line), line
    (line,) = table_lines(text, empty)
    assert re.search(r"\s0\s+-\s+-\s+-\s+0\s+-\s+-\s+0\s+-\s+-$", line), line
    assert "6 syncs, 4 failing now" in text
    latest = expected_errors(world.ground_truth_runs(), world.ground_truth_syncs())[:5]
    shown = text.split("Latest errors:")[1].strip().splitlines()
    assert [line.split()[3] for line in shown] == [e["sync_id"] for e in latest]
    assert [line.split()[4] for line in shown] == [e["error_code"] for e in latest]


def test_labels_fit_their_column_whatever_the_script() -> None:
    for text in ("客户 to Salesforce Contacts #1003", "Churn risk 📉 to Slack", "plain", ""):
        fitted = fit(text, 12)
        assert width(fitted) == 12
        assert fitted.rstrip() == text or fitted.rstrip().endswith("…")
    assert width("客户") == 4 and width("e\u0301") == 1


def test_html_is_one_self_contained_page_with_everything(crafted: tuple[World, HealthData]) -> None:
    world, data = crafted
    page = render_html(data)

    for outside in ("://", "src=", "href=", "url(", "@import", "<script", "<link"):
        assert outside not in page.lower(), f"{outside!r}: the page must need nothing else"
    runs, syncs = world.ground_truth_runs(), world.ground_truth_syncs()
    # one point per day with finished runs (the chart's last CHART_DAYS such days)
    days = sorted(
        {day for (_, _, day), row in expected_daily(runs).items() if row["finished_runs"]}
    )
    (points,) = re.findall(r'<polyline points="([^"]*)"', page)
    assert len(points.split()) == len(days[-CHART_DAYS:])
    # one bar per sync with records failed in 30 days
    failed = [r for r in expected_health(runs, syncs, NOW).values() if r["records_failed_30d"]]
    assert page.count(f'fill="{BAR_COLOR}"') == len(failed) > 0
    for row in failed:
        assert f">{row['records_failed_30d']:,}</text>" in page
    errors = expected_errors(runs, syncs)
    assert len(errors) <= 50
    for error in errors:
        assert f"<td>{error['run_id']}</td>" in page
    assert "&quot;" in page or "“" in page  # error text is escaped, not markup


def chromium_screenshot(page: Path, out: Path) -> tuple[list[tuple[int, int, int]], list[str]]:
    """Open `page` in headless Chromium: (screenshot pixels, console messages)."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs the Debian package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    shot = out / f"{page.stem}.png"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=127.0.0.1:9",  # any fetch would fail here, on this machine
            f"--user-data-dir={out / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            "--window-size=1200,1000",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return read_pixels(shot.read_bytes())[2], console


def test_chromium_renders_the_charts(crafted: tuple[World, HealthData], tmp_path: Path) -> None:
    _, data = crafted
    page = tmp_path / "report.html"
    page.write_text(render_html(data), encoding="utf-8")

    pixels, console = chromium_screenshot(page, tmp_path)

    assert console == []
    assert len(set(pixels)) > 50, "blank screenshot"
    assert count_near(pixels, hex_color(LINE_COLORS[0])) > 300, "no failure-rate line drawn"
    assert count_near(pixels, hex_color(BAR_COLOR)) > 300, "no records-failed bars drawn"
    # controls: the checks do fail on a blank page and on a page with a script error
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    pixels, console = chromium_screenshot(blank, tmp_path)
    assert len(set(pixels)) < 5 and count_near(pixels, hex_color(BAR_COLOR)) == 0
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>notDefined()</script></body></html>", encoding="utf-8")
    assert chromium_screenshot(broken, tmp_path)[1], "console errors are not detected"


@dataclass
class Loaded:
    world: World
    cwd: Path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """A recent workspace loaded by `syncruns run` (which creates the views)."""
    world = recent_world(seed=21, counts=(0, 4, 30, 60))
    cwd = tmp_path_factory.mktemp("report_cli")
    with CensusSimulator(world, token=TOKEN) as sim:
        result = syncruns("run", "--quiet", "--base-url", sim.base_url, cwd=cwd)
    assert result.returncode == 0, result.stderr
    yield Loaded(world, cwd)


def test_run_creates_the_views_and_report_prints_them(loaded: Loaded) -> None:
    with duckdb.connect(str(loaded.cwd / "census_syncruns.duckdb"), read_only=True) as db:
        views = db.sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'census' AND table_type = 'VIEW'"
        ).fetchall()
    assert sorted(v[0] for v in views) == ["sync_health", "sync_run_daily", "sync_run_errors"]

    result = syncruns("report", cwd=loaded.cwd)

    assert result.returncode == 0, result.stderr
    for sync in loaded.world.ground_truth_syncs():
        (line,) = table_lines(result.stdout, str(sync["id"]))
        runs = len(loaded.world.runs_of(sync["id"]))
        assert re.search(rf"\s{runs:,}\s", line), line


def test_report_html_and_sync_filter(loaded: Loaded) -> None:
    sync = loaded.world.syncs[2]["id"]
    result = syncruns("report", "--sync-id", str(sync), "--html", "out.html", cwd=loaded.cwd)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Wrote out.html (1 syncs")
    page = (loaded.cwd / "out.html").read_text(encoding="utf-8")
    assert f"census {sync}" in page
    others = [s["id"] for s in loaded.world.syncs if s["id"] != sync]
    assert not any(f"census {other}<" in page for other in others)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sync-id", "424242"), "--sync-id 424242: no such census sync"),
        (("--html", "missing/out.html"), "--html folder 'missing' does not exist"),
        (
            ("--duckdb-path", "nothing.duckdb"),
            "No DuckDB file 'nothing.duckdb': run `syncruns run`",
        ),
        (("--dataset", "elsewhere"), "Dataset 'elsewhere' has no loaded sync runs yet: run"),
    ],
)
def test_report_errors_are_one_line(loaded: Loaded, args: tuple[str, ...], message: str) -> None:
    result = syncruns("report", *args, cwd=loaded.cwd)

    assert result.returncode == 2
    assert result.stderr.startswith(f"syncruns: error: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (loaded.cwd / "nothing.duckdb").exists()


def test_view_windows_follow_the_clock(loaded: Loaded) -> None:
    """The views created by the CLI count runs relative to the time they are read."""
    with duckdb.connect(str(loaded.cwd / "census_syncruns.duckdb"), read_only=True) as db:
        rows = db.sql("SELECT sync_id, finished_runs_30d FROM census.sync_health").fetchall()
    runs = loaded.world.ground_truth_runs()
    expected = expected_health(runs, loaded.world.ground_truth_syncs(), loaded.world.now)
    first = min(parse_timestamp(run["created_at"]) for run in runs)
    assert datetime.now(UTC) - first < timedelta(days=29)  # all of it inside the 30-day window
    assert dict(rows) == {k[1]: v["finished_runs_30d"] for k, v in expected.items()}
    assert sum(v for _, v in rows) > 0
