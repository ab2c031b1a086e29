"""Seeded content of simulated Hightouch syncs and sync runs (the JSON objects the API serves).

Shapes follow the public Hightouch model: a run has `id` (number), `createdAt`, `startedAt`,
`finishedAt`, `status`, `completionRatio`, `querySize`, `error`, and `plannedRows`,
`successfulRows`, `failedRows`, each `{addedCount, changedCount, removedCount}`.

Assumptions where the model is silent:
- Timestamps are ISO-8601 UTC with milliseconds (`2024-01-01T00:00:00.000Z`).
- An open run has `finishedAt: null` and `error: null`; a queued run has not started yet, so its
  `startedAt` equals its `createdAt` until it leaves the queue, when `startedAt` moves forward
  to the real start (it never moves back).
- Every finished run has `finishedAt`; `error` is set for failed, cancelled, aborted and
  interrupted runs.
- `pending` (in both vendor clients' pending lists) waits like `queued`: a third of the runs that
  would be queued (those whose id is divisible by 3) are `pending` instead. `aborted` (defined by
  the Airflow provider, in neither of its lists) is final here: half of the runs that would end
  `cancelled` (even ids) end `aborted`. Both are chosen by id, so a seed draws the same world as
  before they existed, but for these statuses.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, Final

OPEN_STATUSES: Final = ("pending", "queued", "querying", "processing", "reporting")
TERMINAL_STATUSES: Final = ("success", "warning", "failed", "cancelled", "interrupted", "aborted")
WAITING_STATUSES: Final = ("pending", "queued")
"""Open statuses of a run that has not started: its `startedAt` is its `createdAt` until then."""
DRAWN_OPEN_STATUSES: Final = ("queued", "querying", "processing", "reporting")
"""The open statuses the random stream draws from (`queued` may then become `pending`)."""
_DRAWN_TERMINAL: Final = ("success", "warning", "failed", "cancelled", "interrupted")
_TERMINAL_WEIGHTS: Final = (75, 8, 12, 3, 2)
COUNT_KEYS: Final = ("addedCount", "changedCount", "removedCount")
ROW_GROUPS: Final = ("plannedRows", "successfulRows", "failedRows")

US_PER_MS: Final = 1_000
US_PER_S: Final = 1_000_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

_ERRORS: Final[dict[str, tuple[str, ...]]] = {
    "failed": (
        "Destination rejected the batch: field 'email' is invalid — HTTP 400 ✗",
        "Warehouse query timed out after 3600 s (Zeitüberschreitung)",
        "Authentication to the destination failed: token expired",
        "宛先 API がエラーを返しました (500)",
    ),
    "cancelled": ("Run was cancelled by a user",),
    "aborted": ("Run was aborted",),
    "interrupted": ("Run was interrupted by a platform restart; it will be retried",),
}
_SCHEDULES: Final = (
    {"type": "interval", "schedule": {"interval": {"quantity": 15, "unit": "minute"}}},
    {"type": "interval", "schedule": {"interval": {"quantity": 1, "unit": "hour"}}},
    {"type": "cron", "schedule": {"expression": "0 */2 * * *"}},
    None,
)


def format_us(us: int) -> str:
    """Microseconds since the epoch as the API's timestamp text (milliseconds, `Z`)."""
    moment = _EPOCH + timedelta(microseconds=us - us % US_PER_MS)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_us(text: str) -> int:
    """An ISO-8601 timestamp (with offset or `Z`; naive means UTC) as epoch microseconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """A timezone-aware datetime as epoch microseconds."""
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    """Epoch microseconds as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


def _counts(added: int, changed: int, removed: int) -> dict[str, int]:
    return {"addedCount": added, "changedCount": changed, "removedCount": removed}


class Generator:
    """Draws syncs and runs from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def make_sync(self, sync_id: int, created_us: int, workspace_id: str) -> dict[str, Any]:
        """A sync object as `GET /api/v1/syncs` lists it (status set later from its runs)."""
        rng = self.rng
        stamp = format_us(created_us)
        return {
            "id": str(sync_id),
            "slug": f"sync-{sync_id}-{rng.choice(('crm', 'ads', 'email', 'support'))}",
            "workspaceId": workspace_id,
            "createdAt": stamp,
            "updatedAt": stamp,
            "destinationId": str(rng.randint(10_000, 99_999)),
            "modelId": str(rng.randint(10_000, 99_999)),
            "configuration": {
                "mode": rng.choice(("upsert", "update", "mirror")),
                "object": rng.choice(("contacts", "accounts", "leads")),
                "mappings": [{"from": "email", "to": "Email"}, {"from": "name", "to": "Name"}],
            },
            "schedule": rng.choice(_SCHEDULES),
            "status": "pending",
            "disabled": rng.random() < 0.1,
            "lastRunAt": None,
            "referencedColumns": ["email", "name"],
            "primaryKey": "email",
        }

    def finished_run(
        self, run_id: int, created_us: int, started_us: int, finished_us: int
    ) -> dict[str, Any]:
        """A run that reached a terminal status."""
        status = self.rng.choices(_DRAWN_TERMINAL, _TERMINAL_WEIGHTS)[0]
        run = self.open_run(run_id, created_us, started_us, "processing")
        return self.finish(run, started_us, finished_us, status)

    def open_run(
        self, run_id: int, created_us: int, started_us: int, status: str
    ) -> dict[str, Any]:
        """A run still in `status` (one of OPEN_STATUSES); a waiting run starts at creation.

        `queued` becomes `pending` for ids divisible by 3.
        """
        if status == "queued" and run_id % 3 == 0:
            status = "pending"
        if status in WAITING_STATUSES:
            started_us = created_us
        run: dict[str, Any] = {
            "id": run_id,
            "createdAt": format_us(created_us),
            "startedAt": format_us(started_us),
            "finishedAt": None,
            "status": status,
            "completionRatio": 0.0,
            "querySize": 0,
            "error": None,
            "plannedRows": _counts(0, 0, 0),
            "successfulRows": _counts(0, 0, 0),
            "failedRows": _counts(0, 0, 0),
        }
        if status in ("processing", "reporting"):
            self._plan(run)
            share = 0.5 if status == "processing" else 1.0
            planned = run["plannedRows"]
            run["successfulRows"] = {key: int(planned[key] * share) for key in COUNT_KEYS}
            run["completionRatio"] = share
        return run

    def advance_open(self, run: dict[str, Any], now_us: int) -> dict[str, Any]:
        """One step of an open run's lifecycle at `now_us` (queued -> querying -> ... -> end)."""
        status = run.get("status")
        if status in WAITING_STATUSES:
            moved = self.open_run(run["id"], parse_us(run["createdAt"]), now_us, "querying")
            return moved
        started_us = parse_us(run["startedAt"])
        if status == "querying":
            return self.open_run(run["id"], parse_us(run["createdAt"]), started_us, "processing")
        if status == "processing":
            stepped = dict(run)
            planned = run["plannedRows"]
            stepped.update(
                status="reporting",
                completionRatio=1.0,
                successfulRows={key: planned[key] for key in COUNT_KEYS},
            )
            return stepped
        status = self.rng.choices(_DRAWN_TERMINAL, _TERMINAL_WEIGHTS)[0]
        return self.finish(run, started_us, max(now_us, started_us), status)

    def finish(
        self, run: dict[str, Any], started_us: int, finished_us: int, status: str | None = None
    ) -> dict[str, Any]:
        """`run` moved to a terminal status (drawn when None), with final counts.

        A drawn `cancelled` becomes `aborted` for even ids.
        """
        rng = self.rng
        if status is None:
            status = rng.choices(_DRAWN_TERMINAL, _TERMINAL_WEIGHTS)[0]
        if status == "cancelled" and run["id"] % 2 == 0:
            status = "aborted"
        done = dict(run)
        if not any(run["plannedRows"].values()):
            self._plan(done)
        planned = done["plannedRows"]
        if status == "success":
            share, failed_share = 1.0, 0.0
        elif status == "warning":
            share, failed_share = 1.0, rng.choice((0.01, 0.05, 0.1))
        else:
            share, failed_share = rng.choice((0.0, 0.25, 0.5, 0.75)), rng.choice((0.0, 0.1))
        failed = {key: int(planned[key] * failed_share) for key in COUNT_KEYS}
        succeeded = {key: int(planned[key] * share) - failed[key] for key in COUNT_KEYS}
        done.update(
            status=status,
            startedAt=format_us(started_us),
            finishedAt=format_us(max(finished_us, started_us)),
            completionRatio=share,
            successfulRows=succeeded,
            failedRows=failed,
            error=rng.choice(_ERRORS[status]) if status in _ERRORS else None,
        )
        return done

    def _plan(self, run: dict[str, Any]) -> None:
        rng = self.rng
        planned = _counts(rng.randint(0, 500), rng.randint(0, 2_000), rng.randint(0, 100))
        run["plannedRows"] = planned
        run["querySize"] = sum(planned.values()) + rng.randint(0, 50_000)
