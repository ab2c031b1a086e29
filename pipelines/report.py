"""`syncruns report`: sync health read from the views, rendered as a terminal table."""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import dlt
import wcwidth
from sqlglot import exp

from pipelines.health_views import (
    VIEW_NAMES,
    HealthViewsError,
    RunSource,
    canonical_name,
    ensure_health_views,
    loaded_canonical_bodies,
    no_run_data,
    reading_dialect,
)
from pipelines.sql_dialects import CANONICAL, transpile
from pipelines.view_values import typed_row

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
    sources: Sequence[RunSource] | None = None,
) -> HealthData:
    """Read the health views (created first if missing), optionally for some syncs only.

    Sync ids are the ones of `source` when it is given (ids collide across sources).
    With `sources`, the views' SQL over those sources runs in place of the views: nothing
    is written, so a read-only connection serves (`syncruns report` and `check`).
    """
    if sources is None:
        ensure_health_views(pipeline)
    dialect, versions = reading_dialect(pipeline)
    with pipeline.sql_client() as client:
        if sources is not None:
            if not client.has_dataset():  # a mistyped --dataset: not the other sources' health
                raise no_run_data(client)
            bodies = loaded_canonical_bodies(client, dialect, sources, versions=versions)
            relations = {name: f"({body}) AS {name}" for name, body in bodies.items()}
        else:
            relations = {name: canonical_name(client, name, dialect) for name in VIEW_NAMES}
        where = ""
        if sync_ids:
            where = f" WHERE sync_id IN ({', '.join(_text(i) for i in sync_ids)})"
            if source is not None:
                where += f" AND source = {_text(source)}"

        def rows(view: str, order: str, limit: str = "") -> list[dict[str, Any]]:
            query = f"SELECT * FROM {relations[view]}{where} ORDER BY {order}{limit}"
            with client.execute_query(transpile(query, dialect, is_view=False)) as cursor:
                names = list(cursor.columns_schema)
                return [typed_row(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]

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


def _text(value: str) -> str:
    """A string literal, quotes escaped (sync ids come from the command line)."""
    return str(exp.Literal.string(value).sql(dialect=CANONICAL))


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


# Shown as escapes (\x1b, \u202e): controls, ESC sequences, bidi overrides, marks and isolates,
# line separators, lone surrogates, and unassigned code points of no width. A sync name cannot
# move the cursor, recolor or reorder the terminal, and invisible characters become visible.
# The two joiners stay: emoji sequences and scripts such as Persian need them, and they neither
# move nor reorder anything.
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
KEPT_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})  # zero-width non-joiner, joiner
DOTTED_CIRCLE = "\u25cc"  # Unicode's base for showing a combining mark alone

LABEL_COLUMNS = 40  # labels wider than this are cut (with an ellipsis); nothing else is


def _shown_raw(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Cn":  # newer than Python's tables: raw if wcwidth knows it as visible
        return wcwidth.wcwidth(char) > 0
    return category not in ESCAPED_CATEGORIES or char in KEPT_FORMAT_CHARACTERS


def _escaped(text: str) -> str:
    return "".join(char if _shown_raw(char) else ascii(char)[1:-1] for char in text)


def _columns(shown: str) -> int:
    # grapheme by grapheme, as terminals that cluster draw them: over a whole string wcwidth
    # lets a joiner swallow whatever follows it, a space too
    return sum(wcwidth.width(grapheme) for grapheme in wcwidth.iter_graphemes(shown))


def _apart(shown: str) -> str:
    """`shown` kept inside its cell, whatever stands beside it: a trailing prepended mark that
    would join the next space is escaped, and a leading grapheme that would join or sit on the
    space before (a combining mark, say) gets a dotted circle to sit on."""
    if not shown:
        return shown
    if next(wcwidth.iter_graphemes_reverse(shown + " ")) != " ":
        shown = shown[:-1] + ascii(shown[-1])[1:-1]
    lead = next(wcwidth.iter_graphemes(shown))
    if next(wcwidth.iter_graphemes(" " + shown)) != " " or wcwidth.width(lead) == 0:
        shown = DOTTED_CIRCLE + shown
    return shown


def visible(text: str) -> str:
    """`text` as the report prints it: control, format and separator characters as escapes."""
    return _apart(_escaped(text))


def width(text: str) -> int:
    """Terminal columns that `visible(text)` takes (wide CJK and emoji 2, combining marks 0)."""
    return _columns(visible(text))


def fit(text: str, columns: int) -> str:
    """`visible(text)` cut to `columns` terminal columns (with an ellipsis) and padded to them.

    The cut falls between grapheme clusters, and never inside an escape.
    """
    shown = visible(text)
    if _columns(shown) > columns:
        cut, shown = "", "…"
        # each cluster takes a column at least, but for some of no width: a bound on the work
        for cluster in islice(wcwidth.iter_graphemes(text), 4 * columns):
            cut += _escaped(cluster)
            longer = _apart(cut + "…")
            if _columns(longer) > columns:
                break
            shown = longer
    return shown + " " * (columns - _columns(shown))


COLUMNS: tuple[tuple[str, int | None, bool], ...] = (  # title, widest (None: any), right-aligned
    ("sync", None, False),
    ("label", LABEL_COLUMNS, False),
    ("runs", None, True),
    ("last run", None, True),
    ("status", None, False),
    ("last success", None, True),
    ("failing", None, True),
    ("fail 7d", None, True),
    ("fail 30d", None, True),
    ("rec. failed 7d", None, True),
    ("p50", None, True),
    ("p95", None, True),
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


def column_widths(rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column as wide as its title and widest cell, the label at most LABEL_COLUMNS."""
    widths = []
    for index, (title, widest, _) in enumerate(COLUMNS):
        size = max([width(title), *(width(row[index]) for row in rows)])
        widths.append(size if widest is None else min(size, widest))
    return widths


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    parts = []
    for cell, size, (_, _, right) in zip(cells, widths, COLUMNS, strict=True):
        fitted = fit(cell, size)
        if right:  # right-aligned cells are never cut: their column is as wide as the widest
            fitted = " " * (size - width(cell)) + visible(cell)
        parts.append(fitted)
    return "  ".join(parts).rstrip()


def render_terminal(data: HealthData, errors_shown: int = 5) -> str:
    """The health table, a one-line verdict and the latest errors."""
    stamp = data.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [visible(f"Sync health, {data.where}, {stamp}"), ""]
    rows = [health_cells(row, data.now) for row in data.syncs]
    widths = column_widths(rows)
    lines.append(_line([title for title, _, _ in COLUMNS], widths))
    lines.append(_line(["-" * size for size in widths], widths))
    lines += [_line(cells, widths) for cells in rows]
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
