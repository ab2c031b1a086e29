"""The health views computed in plain Python from the simulator's ground truth, and readers.

An independent implementation of the definitions in pipelines/health_views.py: the tests
compare each view with these rows.
"""

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dlt

from census_simulator import World
from census_source.timestamps import parse_timestamp
from tests.truth import table

OUTCOMES = {"completed": "success", "failed": "failure", "skipped": "skipped"}
# each source's statuses -> the views' outcome (README "Monitoring your syncs"); else open
SOURCE_OUTCOMES = {
    "census": OUTCOMES,
    "census_v2": OUTCOMES,
    "mirror": OUTCOMES,
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
FLOAT_COLUMNS = frozenset(
    {"failure_rate_7d", "failure_rate_30d", "p50_duration_s", "p95_duration_s"}
)


def outcome(status: str | None, source: str = "census") -> str:
    return SOURCE_OUTCOMES[source].get(status or "", "open")


def _rows(counts: dict[str, Any] | None) -> int | None:
    """Hightouch's added + changed + removed rows."""
    if counts is None:
        return None
    return int(counts["addedCount"]) + int(counts["changedCount"]) + int(counts["removedCount"])


def hightouch_as_common(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hightouch runs in the fields the views read (README "Definitions": planned, successful
    and failed rows stand for records processed, updated and failed)."""
    return [
        {
            "id": run["id"],
            "sync_id": run["syncId"],
            "status": run["status"],
            "created_at": run["createdAt"],
            "completed_at": run["finishedAt"],
            "records_processed": _rows(run["plannedRows"]),
            "records_updated": _rows(run["successfulRows"]),
            "records_failed": _rows(run["failedRows"]),
            "records_invalid": None,
            "error_code": None,
            "error_message": run["error"],
            "error_detail": None,
        }
        for run in runs
    ]


def hightouch_syncs_as_common(syncs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": sync["id"], "label": sync["slug"]} for sync in syncs]


def files_com_as_common(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Files.com runs in the fields the views read (compared, successful and errored files
    stand for records; the run's body is its message)."""
    return [
        {
            "id": run["id"],
            "sync_id": run["sync_id"],
            "status": run["status"],
            "created_at": run["created_at"],
            "completed_at": run["completed_at"],
            "records_processed": run["compared_files"],
            "records_updated": run["successful_files"],
            "records_failed": run["errored_files"],
            "records_invalid": None,
            "error_code": None,
            "error_message": run["body"],
            "error_detail": None,
        }
        for run in runs
    ]


def files_com_syncs_as_common(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Files.com has no syncs endpoint: each sync's name is on its runs."""
    names: dict[Any, str] = {}
    for run in runs:
        names[run["sync_id"]] = max(names.get(run["sync_id"], run["sync_name"]), run["sync_name"])
    return [{"id": sync_id, "label": name} for sync_id, name in names.items()]


def _time(value: Any) -> datetime | None:
    return None if value is None else parse_timestamp(value)


def _order(run: dict[str, Any]) -> tuple[datetime, int, str]:
    """Oldest first: by created_at, then id; ids are text (v2: "run_100123"), and numeric ones
    order as numbers, by length first."""
    created = _time(run["created_at"])
    assert created is not None
    return created, len(str(run["id"])), str(run["id"])


def _id(value: Any) -> str:
    """Ids are text in the views (sources differ: numbers, strings)."""
    return str(value)


def _percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _sum(runs: list[dict[str, Any]], field: str) -> int:
    return sum(run.get(field) or 0 for run in runs)


def _labels(
    runs: list[dict[str, Any]], syncs: list[dict[str, Any]], source: str
) -> dict[tuple[str, str], str | None]:
    labels: dict[tuple[str, str], str | None] = {
        (source, _id(s["id"])): s.get("label") for s in syncs
    }
    for run in runs:
        labels.setdefault((source, _id(run["sync_id"])), None)
    return labels


def expected_health(
    runs: list[dict[str, Any]],
    syncs: list[dict[str, Any]],
    now: datetime,
    source: str = "census",
) -> dict[tuple[str, str], dict[str, Any]]:
    """sync_health rows keyed by (source, sync_id)."""
    by_sync: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_sync[_id(run["sync_id"])].append(run)
    rows = {}
    for key, label in _labels(runs, syncs, source).items():
        history = sorted(by_sync.get(key[1], []), key=_order)
        newest = history[-1] if history else None
        successes = [r for r in history if outcome(r["status"], source) == "success"]
        finished = [r for r in history if outcome(r["status"], source) in ("success", "failure")]
        streak = 0
        for run in reversed(finished):
            if outcome(run["status"], source) == "success":
                break
            streak += 1
        row: dict[str, Any] = {
            "source": source,
            "sync_id": key[1],
            "sync_label": label,
            "runs": len(history),
            "last_run_id": _id(newest["id"]) if newest else None,
            "last_run_status": newest["status"] if newest else None,
            "last_run_at": _time(newest["created_at"]) if newest else None,
            "last_success_at": max(
                (parse_timestamp(r["completed_at"] or r["created_at"]) for r in successes),
                default=None,
            ),
            "consecutive_failures": streak,
        }
        for days in (7, 30):
            window = [r for r in history if now - timedelta(days=days) < _order(r)[0] <= now]
            done = [r for r in window if outcome(r["status"], source) in ("success", "failure")]
            failed = [r for r in done if outcome(r["status"], source) == "failure"]
            row[f"finished_runs_{days}d"] = len(done)
            row[f"failed_runs_{days}d"] = len(failed)
            row[f"records_failed_{days}d"] = _sum(window, "records_failed")
            row[f"records_invalid_{days}d"] = _sum(window, "records_invalid")
            row[f"failure_rate_{days}d"] = len(failed) / len(done) if done else None
            if days == 30:
                durations = [
                    (parse_timestamp(r["completed_at"]) - parse_timestamp(r["created_at"]))
                    / timedelta(seconds=1)
                    for r in done
                    if r.get("completed_at") is not None
                ]
                row["p50_duration_s"] = _percentile(durations, 0.5)
                row["p95_duration_s"] = _percentile(durations, 0.95)
        rows[key] = row
    return rows


def expected_daily(
    runs: list[dict[str, Any]], source: str = "census"
) -> dict[tuple[str, str, date], dict[str, Any]]:
    """sync_run_daily rows keyed by (source, sync_id, UTC day)."""
    groups: dict[tuple[str, str, date], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(source, _id(run["sync_id"]), _order(run)[0].date())].append(run)
    rows = {}
    for key, day_runs in groups.items():
        outcomes = [outcome(r["status"], source) for r in day_runs]
        rows[key] = {
            "source": key[0],
            "sync_id": key[1],
            "day": key[2],
            "runs": len(day_runs),
            "finished_runs": sum(o in ("success", "failure") for o in outcomes),
            "failed_runs": outcomes.count("failure"),
            **{
                f"records_{name}": _sum(day_runs, f"records_{name}")
                for name in ("processed", "updated", "failed", "invalid")
            },
        }
    return rows


def expected_errors(
    runs: list[dict[str, Any]], syncs: list[dict[str, Any]], source: str = "census"
) -> list[dict[str, Any]]:
    """sync_run_errors rows, newest first."""
    labels = _labels(runs, syncs, source)
    failed = sorted((r for r in runs if outcome(r["status"], source) == "failure"), key=_order)
    return [
        {
            "source": source,
            "sync_id": _id(r["sync_id"]),
            "sync_label": labels[(source, _id(r["sync_id"]))],
            "run_id": _id(r["id"]),
            "status": r["status"],
            "created_at": _time(r["created_at"]),
            "completed_at": _time(r.get("completed_at")),
            **{
                name: r.get(name)
                for name in (
                    "error_code",
                    "error_message",
                    "error_detail",
                    "records_failed",
                    "records_invalid",
                )
            },
        }
        for r in reversed(failed)
    ]


def view_rows(pipeline: dlt.Pipeline, view: str, setup: str | None = None) -> list[dict[str, Any]]:
    """Every row of a view as a dict, in the view's own order (`setup`: SQL run first)."""
    stores_wall_clock = pipeline.sql_client().capabilities.sqlglot_dialect in WALL_CLOCK_ENGINES
    with pipeline.sql_client() as client:
        if setup:
            client.execute_sql(setup)
        with client.execute_query(f"SELECT * FROM {table(pipeline, view)}") as cursor:
            names = [name.lower() for name in cursor.columns_schema]
            raw = cursor.fetchall()
    rows = [dict(zip(names, row, strict=True)) for row in raw]
    if stores_wall_clock:
        rows = [{name: _from_wall_clock(name, value) for name, value in r.items()} for r in rows]
    return [{name: _utc(value) for name, value in row.items()} for row in rows]


# engines whose timestamps have no time zone: SQLite (text) and MySQL/MariaDB (DATETIME), both
# holding the UTC wall clock as dlt loads it
WALL_CLOCK_ENGINES = frozenset({"sqlite", "mysql"})
_TIMESTAMPS = frozenset({"last_run_at", "last_success_at", "created_at", "completed_at"})


def _from_wall_clock(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _TIMESTAMPS:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        assert moment.tzinfo is None, f"{name}: {value!r} is not a wall clock"
        return moment.replace(tzinfo=UTC)
    if name == "day" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, "naive timestamp from a view"
        return value.astimezone(UTC)
    return value


def assert_rows_equal(
    actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]
) -> None:
    """Same keys and values; floating columns equal to 12 significant digits."""
    assert sorted(actual, key=str) == sorted(expected, key=str)
    for key, row in expected.items():
        got = actual[key]
        assert set(got) == set(row), f"{key}: columns {sorted(got)} != {sorted(row)}"
        for column, value in row.items():
            if column in FLOAT_COLUMNS and value is not None and got[column] is not None:
                assert math.isclose(got[column], value, rel_tol=1e-12), (key, column)
            else:
                assert got[column] == value, f"{key} {column}: {got[column]!r} != {value!r}"


def recent_world(seed: int, counts: tuple[int, ...], **options: Any) -> World:
    """A seeded world whose history ends about two hours ago (for the CLI's real clock).

    An hour-aligned shift of `start` keeps every generated run the same. `options` go to World.
    """
    world = World(seed=seed, sync_run_counts=counts, **options)
    span = world.now - world.start + timedelta(hours=2)
    start = (datetime.now(UTC) - span).replace(minute=0, second=0, microsecond=0)
    return World(seed=seed, sync_run_counts=counts, start=start, **options)
