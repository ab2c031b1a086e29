"""results.json: every measurement and the run's context, so a report can be rebuilt later.

Files written before the savvy baseline and the ceiling (issue 17) load with no ceilings.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from benchmarks.capacity import Capacity
from benchmarks.ceiling import Ceiling
from benchmarks.report import Context
from benchmarks.scenarios import Measurement, Plan
from benchmarks.simulator_process import RequestCounts, Truth


def save(path: Path, context: Context, measurements: list[Measurement]) -> None:
    """Write the context and the raw measurements as JSON."""
    raw = {
        "context": dataclasses.asdict(context) | {"skipped": _skipped_list(context)},
        "measurements": [dataclasses.asdict(item) for item in measurements],
    }
    path.write_text(json.dumps(raw, indent=1))


def load(path: Path) -> tuple[Context, list[Measurement]]:
    """Read what :func:`save` wrote."""
    raw = json.loads(path.read_text())
    context_raw: dict[str, Any] = raw["context"]
    context = Context(
        **{
            **context_raw,
            "plan": Plan(**context_raw["plan"]),
            "capacity": [Capacity(**item) for item in context_raw["capacity"]],
            "ceilings": [Ceiling(**item) for item in context_raw.get("ceilings", [])],
            "skipped": {
                (item["scenario"], item["tool"]): item["reason"] for item in context_raw["skipped"]
            },
        }
    )
    measurements = [
        Measurement(
            **{
                **item,
                "requests": RequestCounts(**item["requests"]),
                "truth": Truth(**item["truth"]),
            }
        )
        for item in raw["measurements"]
    ]
    return context, measurements


def _skipped_list(context: Context) -> list[dict[str, str]]:
    return [
        {"scenario": scenario, "tool": tool, "reason": reason}
        for (scenario, tool), reason in context.skipped.items()
    ]
