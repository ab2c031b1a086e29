"""`syncruns report`: sync health read from the views, rendered as a terminal table."""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dlt

from pipelines.health_views import HealthViewsError, ensure_health_views

ERROR_LIMIT = 50


class UnknownSyncError(HealthViewsError):
    """A --sync-id that the dataset does not hold."""


@dataclass(frozen=True)
class HealthData:
    """What the report shows: the views' rows, read at `now`."""

    where: str
    now: datetime
    syncs: list[dict[str, Any]]  # sync_health, worst first
    daily: list[dict[str, Any]]  # sync_run_daily, by day
    errors: list[dict[str, Any]]  # sync_run_errors, newest first, at most ERROR_LIMIT


def read_health(
    pipeline: dlt.Pipeline,
    sync_ids: Sequence[str] | None = None,
    now: datetime | None = None,
    error_limit: int = ERROR_LIMIT,
    source: str | None = None,
) -> HealthData:
    """Read the health views (created first if missing), optionally for some syncs only.

    Sync ids are the ones of `source` when it is given (ids collide across sources).
    """
    ensure_health_views(pipeline)
    with pipeline.sql_client() as client:
        where, params = "", list(sync_ids or [])
        if sync_ids:
            where = f" WHERE sync_id IN ({', '.join('%s' for _ in sync_ids)})"
            if source is not None:
                where, params = f"{where} AND source = %s", [*params, source]

        def rows(view: str, order: str, limit: str = "") -> list[dict[str, Any]]:
            table = client.make_qualified_table_name(view)
            sql = f"SELECT * FROM {table}{where} ORDER BY {order}{limit}"
            with client.execute_query(sql, *params) as cursor:
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        syncs = rows("sync_health", "source, LENGTH(sync_id), sync_id")
        daily = rows("sync_run_daily", "day, source, LENGTH(sync_id), sync_id")
        errors = rows(
            "sync_run_errors",
            "created_at DESC, LENGTH(run_id) DESC, run_id DESC",
            f" LIMIT {int(error_limit)}",
        )
        where_text = f"dataset {client.dataset_name!r} on {pipeline.destination.destination_name}"
    missing = sorted(set(sync_ids or []) - {str(row["sync_id"]) for row in syncs})
    if missing:
        kind = f"{source} sync" if source else "sync"
        raise UnknownSyncError(
            f"--sync-id {', '.join(missing)}: no such {kind} in {where_text}; "
            "leave --sync-id out to see every sync"
        )
    syncs.sort(key=severity)
    return HealthData(where_text, now or datetime.now(UTC), syncs, daily, errors)


def severity(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key: failure streaks first, then the 7-day failure rate, then by id."""
    rate = row["failure_rate_7d"]
    return (
        -row["consecutive_failures"],
        -(rate if rate is not None else -1.0),
        row["source"],
        len(row["sync_id"]),
        row["sync_id"],
    )


def ago(now: datetime, then: datetime | None) -> str:
    """'5m ago', '3h ago', '2d ago'; '-' for never."""
    if then is None:
        return "-"
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now" if seconds > -60 else "in future"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "-"


def percent(rate: float | None) -> str:
    """'12.5%', or '-' for a window without finished runs."""
    return "-" if rate is None else f"{rate * 100:.1f}%"


def seconds(value: float | None) -> str:
    """A duration in seconds, compact."""
    if value is None:
        return "-"
    return f"{value:.0f}s" if value < 600 else f"{value / 60:.0f}m"


def width(text: str) -> int:
    """Terminal columns taken by `text` (wide CJK and emoji count 2, combining marks 0)."""
    total = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def fit(text: str, columns: int) -> str:
    """`text` cut to `columns` terminal columns (with an ellipsis) and padded to them."""
    if width(text) > columns:
        cut = ""
        for char in text:
            if width(cut + char) > columns - 1:
                break
            cut += char
        text = cut + "…"
    return text + " " * (columns - width(text))


COLUMNS: tuple[tuple[str, int, bool], ...] = (  # title, width, right-aligned
    ("sync", 16, False),
    ("label", 28, False),
    ("runs", 7, True),
    ("last run", 10, True),
    ("status", 10, False),
    ("last success", 12, True),
    ("failing", 7, True),
    ("fail 7d", 7, True),
    ("fail 30d", 8, True),
    ("rec. failed 7d", 14, True),
    ("p50", 5, True),
    ("p95", 5, True),
)


def health_cells(row: dict[str, Any], now: datetime) -> list[str]:
    """The table cells of one sync_health row."""
    return [
        f"{row['source']} {row['sync_id']}",
        row["sync_label"] or "",
        f"{row['runs']:,}",
        ago(now, row["last_run_at"]),
        row["last_run_status"] or "-",
        ago(now, row["last_success_at"]),
        str(row["consecutive_failures"]),
        percent(row["failure_rate_7d"]),
        percent(row["failure_rate_30d"]),
        f"{row['records_failed_7d']:,}",
        seconds(row["p50_duration_s"]),
        seconds(row["p95_duration_s"]),
    ]


def _line(cells: Sequence[str]) -> str:
    parts = []
    for cell, (_, size, right) in zip(cells, COLUMNS, strict=True):
        fitted = fit(cell, size)
        parts.append(fitted.strip().rjust(size) if right and width(cell) <= size else fitted)
    return "  ".join(parts).rstrip()


def render_terminal(data: HealthData, errors_shown: int = 5) -> str:
    """The health table, a one-line verdict and the latest errors."""
    stamp = data.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Sync health, {data.where}, {stamp}", ""]
    lines.append(_line([title for title, _, _ in COLUMNS]))
    lines.append(_line(["-" * size for _, size, _ in COLUMNS]))
    lines += [_line(health_cells(row, data.now)) for row in data.syncs]
    failing = sum(1 for row in data.syncs if row["consecutive_failures"] > 0)
    failed_30d = sum(row["failed_runs_30d"] for row in data.syncs)
    lines += [
        "",
        f"{len(data.syncs)} syncs, {failing} failing now (latest finished run failed); "
        f"{failed_30d:,} failed runs in 30 days",
        "failing = failed runs since the last success; fail 7d/30d = failed / finished runs",
    ]
    if data.errors:
        lines += ["", "Latest errors:"]
        for error in data.errors[:errors_shown]:
            when = error["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M")
            head = f"  {when}  {error['source']} {error['sync_id']}  {error['error_code'] or '-'}"
            message = " ".join((error["error_message"] or "").split())
            lines.append(fit(f"{head}  {message}", 110).rstrip())
    return "\n".join(lines)
