"""What a progress line says: a step's counters at one moment, as one line of text."""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from syncruns_common.progress import RUNS, SYNCS

_DLT_RESOURCES = "Resources"  # dlt's count of resources done: says little ("0/1"), not shown


@dataclass
class Counter:
    """One counter of a step: how many so far, of how many (None: not known)."""

    count: int = 0
    total: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """The counters of a step (dlt's step name, e.g. `Extract census`) at one moment."""

    step: str
    elapsed: float
    counters: Mapping[str, Counter]
    requests: int
    ended: bool = False
    failed: bool = False

    @property
    def syncs(self) -> Counter | None:
        """The sources' `Syncs` counter, if they reported one."""
        return self.counters.get(SYNCS)

    def line(self) -> str:
        """e.g. `syncruns: extract: syncs 12/40 (30%), runs 48,211 (945/s), requests 497,
        ~2 min left`; a step's last line says `done in ...` (or `stopped after ...`)."""
        name = self.step.split(" ", 1)[0].lower()
        ours = SYNCS in self.counters or RUNS in self.counters
        parts = self._our_parts() if ours else self._dlt_parts()
        if self.ended:
            how = "stopped after" if self.failed else "done in"
            return f"syncruns: {name}: {how} {duration(self.elapsed)}: " + ", ".join(parts)
        left = self.time_left()
        if left is not None:
            parts.append(f"~{duration(left, estimate=True)} left")
        return f"syncruns: {name}: " + ", ".join(parts)

    def time_left(self) -> float | None:
        """Seconds left at the pace so far, from syncs done of total (None: cannot tell yet)."""
        syncs = self.syncs
        if syncs is None or not syncs.total or not 0 < syncs.count < syncs.total:
            return None
        return self.elapsed / syncs.count * (syncs.total - syncs.count)

    def _our_parts(self) -> list[str]:
        parts = []
        if self.syncs is not None:
            parts.append("syncs " + _fraction(self.syncs))
        runs = self.counters.get(RUNS, Counter())
        parts.append(f"runs {runs.count:,}{self._rate(runs.count)}")
        parts.append(f"requests {self.requests:,}")
        return parts

    def _dlt_parts(self) -> list[str]:
        parts, rows = [], None
        for name, counter in self.counters.items():
            if name == _DLT_RESOURCES:
                continue
            if counter.total is None and "(" not in name:  # rows of a table
                rows = (rows or 0) + counter.count
            else:
                parts.append(f"{name.lower()} {_fraction(counter)}")
        if rows is not None:
            parts.append(f"rows {rows:,}{self._rate(rows)}")
        return parts or ["started"]

    def _rate(self, count: int) -> str:
        return f" ({count / self.elapsed:,.0f}/s)" if self.elapsed >= 1 and count else ""


def duration(seconds: float, estimate: bool = False) -> str:
    """`42 s`, `3 min 05 s`, `2 h 07 min`; an `estimate` is coarser: `45 s`, `3 min`."""
    whole = math.ceil(seconds)
    if estimate and whole > 10:
        fives = math.ceil(seconds / 5) * 5
        if fives < 60:
            return f"{fives} s"
        minutes = max(1, round(seconds / 60))
        if minutes < 60:
            return f"{minutes} min"
        return "{} h {:02d} min".format(*divmod(minutes, 60))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return "{} min {:02d} s".format(*divmod(whole, 60))
    return "{} h {:02d} min".format(*divmod(round(whole / 60), 60))


def _fraction(counter: Counter) -> str:
    if not counter.total:
        return f"{counter.count:,}"
    return f"{counter.count:,}/{counter.total:,} ({counter.count * 100 // counter.total}%)"
