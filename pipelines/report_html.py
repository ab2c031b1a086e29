"""`syncruns report --html FILE`: one self-contained page (inline CSS and SVG, no scripts, no URLs).

Charts: the daily failure rate (failed / finished runs, all syncs of a source together) over the
last CHART_DAYS days that had runs, and records failed per sync over 30 days. Then the health
table and the latest errors.
"""

from collections import defaultdict
from datetime import UTC, date
from html import escape
from typing import Any

from pipelines.report import COLUMNS, HealthData, health_cells

CHART_DAYS = 90
BAR_LIMIT = 20
LINE_COLORS = ("#c0392b", "#2c6fbb", "#7d3c98", "#16a085")  # one per source
BAR_COLOR = "#e08e0b"
_WIDTH, _HEIGHT = 860, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 16, 40

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933;
       margin: 24px auto; max-width: 1180px; padding: 0 16px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta, .note { color: #616e7c; font-size: 13px; }
.cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: 10px 14px; min-width: 150px; }
.card b { display: block; font-size: 22px; } .bad b { color: #c0392b; }
svg { display: block; width: 100%; height: auto; background: #fbfcfd;
      border: 1px solid #d9e2ec; border-radius: 6px; }
svg text { font: 11px system-ui, sans-serif; fill: #52606d; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb;
         vertical-align: top; }
th { background: #f5f7fa; } td.num, th.num { text-align: right; }
tr.failing td { background: #fdecea; } code { font-size: 12px; }
td.nowrap { white-space: nowrap; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 3px; margin-right: 4px;
            vertical-align: middle; }
"""


def render_html(data: HealthData) -> str:
    """The whole page."""
    stamp = data.now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    failing = [row for row in data.syncs if row["consecutive_failures"] > 0]
    failed_30d = sum(row["failed_runs_30d"] for row in data.syncs)
    finished_30d = sum(row["finished_runs_30d"] for row in data.syncs)
    rate_30d = f"{failed_30d / finished_30d * 100:.1f}%" if finished_30d else "-"
    records_30d = sum(row["records_failed_30d"] for row in data.syncs)
    cards = [
        ("syncs", f"{len(data.syncs):,}", False),
        ("failing now", f"{len(failing):,}", bool(failing)),
        ("failure rate, 30 days", rate_30d, False),
        ("failed runs, 30 days", f"{failed_30d:,}", False),
        ("records failed, 30 days", f"{records_30d:,}", False),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Sync health, {escape(stamp)}</title><style>{_STYLE}</style></head><body>",
        "<h1>Sync health</h1>",
        f'<p class="meta">{escape(data.where)} &middot; {escape(stamp)}</p>',
        '<div class="cards">',
        *(
            f'<div class="card{" bad" if bad else ""}"><b>{escape(value)}</b>{escape(label)}</div>'
            for label, value, bad in cards
        ),
        "</div>",
        "<h2>Failure rate over time</h2>",
        failure_rate_chart(data.daily),
        '<p class="note">Failed / finished (completed or failed) runs per UTC day, all syncs of a '
        f"source together; the last {CHART_DAYS} days with runs.</p>",
        "<h2>Records failed per sync, last 30 days</h2>",
        records_failed_chart(data.syncs),
        "<h2>Syncs</h2>",
        health_table(data),
        f"<h2>Latest errors ({len(data.errors)})</h2>",
        errors_table(data.errors),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _daily_rates(daily: list[dict[str, Any]]) -> dict[str, dict[date, float]]:
    """Per source: day -> failed / finished runs, on days with finished runs."""
    finished: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    failed: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in daily:
        finished[row["source"]][row["day"]] += row["finished_runs"]
        failed[row["source"]][row["day"]] += row["failed_runs"]
    return {
        source: {day: failed[source][day] / count for day, count in days.items() if count}
        for source, days in finished.items()
    }


def failure_rate_chart(daily: list[dict[str, Any]]) -> str:
    """Inline SVG: one line per source, x = day, y = failure rate."""
    rates = _daily_rates(daily)
    days = sorted({day for per_day in rates.values() for day in per_day})[-CHART_DAYS:]
    svg = [_svg_open("Daily failure rate")]
    if not days:
        svg.append(_empty_note("No finished runs yet"))
        return "".join([*svg, "</svg>"])
    first, last = days[0], days[-1]
    span = max((last - first).days, 1)
    top = max(
        (r for per_day in rates.values() for d, r in per_day.items() if d >= first), default=0
    )
    ceiling = next(c for c in (0.1, 0.2, 0.4, 0.6, 0.8, 1.0) if top <= c)
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(day: date) -> float:
        return _LEFT + plot_w * (day - first).days / span

    def y(rate: float) -> float:
        return _TOP + plot_h * (1 - rate / ceiling)

    for step in range(5):
        value = ceiling * step / 4
        svg.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#e4e7eb"/>'
            f'<text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
            f"{value * 100:g}%</text>"
        )
    ticks = sorted({first + (last - first) * index / 5 for index in range(6)})
    for index, day in enumerate(ticks):
        anchor = "start" if index == 0 else "end" if index == len(ticks) - 1 else "middle"
        svg.append(
            f'<text x="{x(day):.1f}" y="{_HEIGHT - _BOTTOM + 18}" text-anchor="{anchor}">'
            f"{day.isoformat()}</text>"
        )
    legend = []
    for number, (source, per_day) in enumerate(sorted(rates.items())):
        color = LINE_COLORS[number % len(LINE_COLORS)]
        points = [(x(d), y(per_day[d])) for d in days if d in per_day]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        svg.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5" '
            'stroke-linejoin="round"/>'
        )
        svg += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>' for px, py in points
        ]
        legend.append(f'<span><i style="background:{color}"></i>{escape(source)}</span>')
    svg.append("</svg>")
    return "".join(svg) + f'<div class="legend">{"".join(legend)}</div>'


def records_failed_chart(syncs: list[dict[str, Any]]) -> str:
    """Inline SVG: horizontal bars, the BAR_LIMIT syncs with most records failed in 30 days."""
    ranked = sorted(syncs, key=lambda row: -row["records_failed_30d"])
    shown = [row for row in ranked if row["records_failed_30d"] > 0][:BAR_LIMIT]
    bar_h, gap, label_w = 18, 6, 300
    height = max(60, _TOP + len(shown) * (bar_h + gap) + 8)
    svg = [_svg_open("Records failed per sync, 30 days", height)]
    if not shown:
        svg.append(_empty_note("No records failed in the last 30 days", height))
        return "".join([*svg, "</svg>"])
    most = shown[0]["records_failed_30d"]
    plot_w = _WIDTH - label_w - 90
    for index, row in enumerate(shown):
        top = _TOP + index * (bar_h + gap)
        length = max(2.0, plot_w * row["records_failed_30d"] / most)
        label = f"{row['source']} {row['sync_id']}  {row['sync_label'] or ''}"
        label = label if len(label) <= 46 else label[:45] + "…"
        svg.append(
            f'<text x="{label_w - 8}" y="{top + 13}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{top}" width="{length:.1f}" height="{bar_h}" '
            f'fill="{BAR_COLOR}" rx="2"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{top + 13}">'
            f"{row['records_failed_30d']:,}</text>"
        )
    svg.append("</svg>")
    return "".join(svg)


def health_table(data: HealthData) -> str:
    """The sync_health rows as the terminal report shows them; failing syncs highlighted."""
    head = "".join(
        f"<th{' class=num' if right else ''}>{escape(title)}</th>" for title, _, right in COLUMNS
    )
    body = []
    for row in data.syncs:
        cells = "".join(
            f"<td{' class=num' if right else ''}>{escape(cell)}</td>"
            for cell, (_, _, right) in zip(health_cells(row, data.now), COLUMNS, strict=True)
        )
        css = ' class="failing"' if row["consecutive_failures"] > 0 else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def errors_table(errors: list[dict[str, Any]]) -> str:
    """sync_run_errors, newest first."""
    if not errors:
        return '<p class="note">No failed runs.</p>'
    rows = []
    for error in errors:
        when = error["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        cells = [
            when,
            f"{error['source']} {error['sync_id']}",
            error["sync_label"] or "",
            str(error["run_id"]),
        ]
        detail = error["error_detail"] or ""
        rows.append(
            "<tr>"
            + "".join(f'<td class="nowrap">{escape(cell)}</td>' for cell in cells[:2])
            + "".join(f"<td>{escape(cell)}</td>" for cell in cells[2:])
            + f"<td><code>{escape(error['error_code'] or '-')}</code></td>"
            + f"<td>{escape(error['error_message'] or '')}"
            + (f'<br><span class="note">{escape(detail)}</span>' if detail else "")
            + "</td></tr>"
        )
    head = "".join(
        f"<th>{title}</th>"
        for title in ("created (UTC)", "sync", "label", "run", "code", "message")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _svg_open(title: str, height: int = _HEIGHT) -> str:
    return (
        f'<svg role="img" aria-label="{escape(title)}" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}"><title>{escape(title)}</title>'
    )


def _empty_note(text: str, height: int = _HEIGHT) -> str:
    return f'<text x="{_WIDTH / 2}" y="{height / 2}" text-anchor="middle">{escape(text)}</text>'
