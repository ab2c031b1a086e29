"""`syncruns check`: sync health against thresholds, for alerting (exit 0 healthy, 6 not).

A sync is unhealthy when any given threshold is crossed:
- `--max-consecutive-failures N`: more than N failed runs since its last success;
- `--max-failure-rate R`: failure rate over the window (`--window`, 7d or 30d) above R;
- `--stale-after D`: it has runs, and its last success finished more than D ago (or never).
With no threshold given, `--max-consecutive-failures 0` applies: a sync whose latest finished
run failed is unhealthy. Syncs without runs are never unhealthy.
"""

import argparse
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
WINDOWS = ("7d", "30d")


def parse_rate(text: str) -> float:
    """'0.2' or '20%' -> 0.2; between 0 and 1."""
    value = text.strip()
    try:
        rate = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a failure rate: use a fraction from 0 to 1 (0.2) "
            "or a percentage (20%)"
        )
    return rate


def parse_count(text: str) -> int:
    """A non-negative whole number."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more (e.g. 3)")
    return int(text)


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '24h', '2d', '1w' -> timedelta (more than 0)."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: use a number and a unit s, m, h, d or w (e.g. 24h)"
        )
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class Thresholds:
    """What counts as unhealthy; None = not checked."""

    max_consecutive_failures: int | None = None
    max_failure_rate: float | None = None
    stale_after: timedelta | None = None
    window: str = "7d"

    def or_default(self) -> "Thresholds":
        """With nothing to check, flag syncs whose latest finished run failed."""
        unset = (self.max_consecutive_failures, self.max_failure_rate, self.stale_after)
        if all(value is None for value in unset):
            return Thresholds(0, None, None, self.window)
        return self

    def as_json(self) -> dict[str, Any]:
        """The thresholds in --json output."""
        stale = self.stale_after.total_seconds() if self.stale_after is not None else None
        return {
            "max_consecutive_failures": self.max_consecutive_failures,
            "max_failure_rate": self.max_failure_rate,
            "stale_after_seconds": stale,
            "window": self.window,
        }


@dataclass(frozen=True)
class Problem:
    """One crossed threshold of one sync."""

    check: str
    value: Any
    threshold: Any
    text: str


@dataclass(frozen=True)
class Verdict:
    """The result of a check: every sync looked at, the unhealthy ones with their problems."""

    now: datetime
    thresholds: Thresholds
    checked: int
    unhealthy: list[tuple[dict[str, Any], list[Problem]]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when no sync crossed a threshold."""
        return not self.unhealthy


def evaluate(syncs: list[dict[str, Any]], thresholds: Thresholds, now: datetime) -> Verdict:
    """Compare sync_health rows with the thresholds at `now`."""
    limits = thresholds.or_default()
    verdict = Verdict(now=now, thresholds=limits, checked=len(syncs))
    for row in syncs:
        problems = _problems(row, limits, now)
        if problems:
            verdict.unhealthy.append((row, problems))
    return verdict


def _problems(row: dict[str, Any], limits: Thresholds, now: datetime) -> list[Problem]:
    if not row["runs"]:
        return []
    problems = []
    streak = row["consecutive_failures"]
    if limits.max_consecutive_failures is not None and streak > limits.max_consecutive_failures:
        problems.append(
            Problem(
                "consecutive_failures",
                streak,
                limits.max_consecutive_failures,
                f"{streak} consecutive failure{'s' if streak != 1 else ''} "
                f"(max {limits.max_consecutive_failures})",
            )
        )
    rate = row[f"failure_rate_{limits.window}"]
    if limits.max_failure_rate is not None and rate is not None and rate > limits.max_failure_rate:
        failed, finished = (
            row[f"failed_runs_{limits.window}"],
            row[f"finished_runs_{limits.window}"],
        )
        problems.append(
            Problem(
                f"failure_rate_{limits.window}",
                rate,
                limits.max_failure_rate,
                f"failure rate {rate:.1%} over {limits.window} ({failed}/{finished} runs; "
                f"max {limits.max_failure_rate:.1%})",
            )
        )
    if limits.stale_after is not None:
        success = row["last_success_at"]
        if success is None or now - success > limits.stale_after:
            since = (
                "never succeeded"
                if success is None
                else f"last success {success:%Y-%m-%d %H:%M} UTC"
            )
            problems.append(
                Problem(
                    "stale",
                    None if success is None else success.astimezone(UTC).isoformat(),
                    limits.stale_after.total_seconds(),
                    f"stale: {since} (max age {_duration_text(limits.stale_after)})",
                )
            )
    return problems


def _duration_text(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _sync_name(row: dict[str, Any]) -> str:
    label = f" ({row['sync_label']})" if row["sync_label"] else ""
    return f"{row['source']} sync {row['sync_id']}{label}"


def render_text(verdict: Verdict) -> str:
    """One verdict line, then one line per unhealthy sync."""
    if verdict.healthy:
        return f"syncruns check: healthy ({verdict.checked} syncs checked)"
    lines = [
        f"syncruns check: UNHEALTHY: {len(verdict.unhealthy)} of {verdict.checked} syncs "
        "crossed a threshold"
    ]
    for row, problems in verdict.unhealthy:
        lines.append(f"  {_sync_name(row)}: {'; '.join(p.text for p in problems)}")
    return "\n".join(lines)


def render_json(verdict: Verdict) -> str:
    """Machine-readable verdict."""

    def when(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat()

    unhealthy = [
        {
            "source": row["source"],
            "sync_id": row["sync_id"],
            "sync_label": row["sync_label"],
            "problems": [
                {"check": p.check, "value": p.value, "threshold": p.threshold, "message": p.text}
                for p in problems
            ],
            "last_run_status": row["last_run_status"],
            "last_run_at": when(row["last_run_at"]),
            "last_success_at": when(row["last_success_at"]),
            "consecutive_failures": row["consecutive_failures"],
            "failure_rate_7d": row["failure_rate_7d"],
            "failure_rate_30d": row["failure_rate_30d"],
        }
        for row, problems in verdict.unhealthy
    ]
    document = {
        "healthy": verdict.healthy,
        "checked_at": when(verdict.now),
        "thresholds": verdict.thresholds.as_json(),
        "syncs_checked": verdict.checked,
        "unhealthy": unhealthy,
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
