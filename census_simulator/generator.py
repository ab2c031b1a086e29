"""Seeded factory for API-shaped sync and sync-run dicts.

All randomness comes from the ``random.Random`` handed to :class:`Generator`, so a world
built from the same seed is identical byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

from simulator_common.timefmt import US_PER_MIN, US_PER_MS, US_PER_S, format_us

TERMINAL_STATUSES: Final = frozenset({"completed", "failed", "skipped"})
"""Statuses after which a run never changes; anything else (documented or not) is open."""

CURRENT_STEPS: Final = (
    "Checking for columns to remove from the sync",
    "Checking for fields to create in destination",
    "Checking source and destination configuration",
    "Unloading data from warehouse",
    "Loading data into destination service",
    "Committing data to destination service",
    "Committing sync to warehouse",
    "Running sync",
)

SCHEDULE_SLOT_US: Final = 15 * US_PER_MIN
"""Scheduled runs start in the first second of a quarter hour, so syncs collide on seconds."""

_ERRORS: Final = (
    (
        "JSON_ARRAY_ERROR",
        "The array field being used does not appear to be valid JSON: Please make sure the field "
        '"custom_field:Users" with value "jim" is formatted as a JSON Array.',
        'Please make sure the field "custom_field:Users" with value "jim" is formatted as a JSON '
        "Array. Don't hesitate to reach out to the Census Support Team if you need help with this.",
    ),
    (
        "SOURCE_QUERY_TIMEOUT",
        "The source query did not finish within 3600 seconds.",
        "Consider adding a filter or materializing the model as a table.",
    ),
    (
        "DESTINATION_RATE_LIMITED",
        "The destination rejected requests: 429 Too Many Requests.",
        "Census retried 12 times before giving up.",
    ),
    (
        "INVALID_ENCODING",
        "Zeichenkodierung ungültig \u2013 “Größe” 🚫",
        "Spalte „Größe“ enthält ungültige UTF-8-Bytes (0xC3 0x28) in Zeile 1 048 576.",
    ),
    (
        "PERMISSION_DENIED",
        "権限がありません: テーブル “顧客” を読み取れません",
        "GRANT SELECT ON analytics.顧客 TO census_role;",
    ),
    (
        "UNIQUE_ID_MISSING",
        "12 records had an empty primary identifier ∅ and were not synced",
        None,
    ),
)

_LABELS: Final = (
    "New Signups to Leads",
    "Active users → Braze",
    "Käufer nach HubSpot",
    "客户 to Salesforce Contacts",
    "Churn risk 📉 to Slack",
    "Product-qualified accounts",
    "Ürün kullan\u0131c\u0131lar\u0131 to Intercom",
    "Daily revenue rollup",
)
_MODELS: Final = ("new_signups", "active_users", "accounts_pql", "orders_daily", "churn_scores")
_DESTINATION_OBJECTS: Final = ("Lead", "Contact", "user_data", "Account", "audience_members")
_COLUMNS: Final = ("email", "user_id", "account_id", "plan", "lifetime_value", "country")
_OPERATIONS: Final = ("append", "insert", "mirror", "update", "upsert")
_FREQUENCIES: Final = (
    ("hourly", 35),
    ("daily", 20),
    ("quarter_hourly", 15),
    ("never", 15),
    ("continuous", 5),
    ("weekly", 5),
    ("expression", 5),
)
_ACTORS: Final = ("test@getcensus.com", "ops@example.com", "jürgen.müller@beispiel.de")


@dataclass
class SyncProfile:
    """Per-sync parameters that shape the runs generated for it."""

    sync_id: int
    base_records: int
    churn: float
    failure_rate: float
    skip_rate: float
    schedule_frequency: str
    actor: str


class Generator:
    """Produces syncs and runs from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # ----------------------------------------------------------------- syncs
    def new_profile(self, sync_id: int) -> SyncProfile:
        """Draw the behaviour of a new sync."""
        rng = self.rng
        names = [name for name, _ in _FREQUENCIES]
        weights = [weight for _, weight in _FREQUENCIES]
        return SyncProfile(
            sync_id=sync_id,
            base_records=int(10 ** rng.uniform(1, 7.5)),
            churn=rng.uniform(0.001, 0.2),
            failure_rate=rng.uniform(0.02, 0.15),
            skip_rate=rng.uniform(0.0, 0.08),
            schedule_frequency=rng.choices(names, weights)[0],
            actor=rng.choice(_ACTORS),
        )

    def make_sync(self, profile: SyncProfile, created_us: int, now_us: int) -> dict[str, Any]:
        """Build a ``Sync``-shaped dict (status starts as ``ready``)."""
        rng = self.rng
        created_us = self.fuzz_precision(created_us, created_us - created_us % US_PER_S)
        later = min(3 * 86_400 * US_PER_S, max(0, now_us - created_us))
        updated_us = self.fuzz_precision(created_us + int(rng.random() * later), created_us)
        columns = rng.sample(_COLUMNS, rng.randint(1, 3))
        mappings = [
            {
                "from": {"type": "column", "data": column},
                "to": column if rng.random() < 0.5 else column.title().replace("_", ""),
                "is_primary_identifier": index == 0,
            }
            for index, column in enumerate(columns)
        ]
        return {
            "id": profile.sync_id,
            "label": f"{_LABELS[profile.sync_id % len(_LABELS)]} #{profile.sync_id}",
            "status": "ready",
            "created_at": format_us(created_us),
            "updated_at": format_us(updated_us),
            "operation": rng.choice(_OPERATIONS),
            "source_attributes": {
                "connection_id": rng.randint(1, 40),
                "object": {"type": "model", "name": rng.choice(_MODELS)},
            },
            "destination_attributes": {
                "connection_id": rng.randint(41, 80),
                "object": rng.choice(_DESTINATION_OBJECTS),
            },
            "mappings": mappings,
            "schedule_frequency": profile.schedule_frequency,
            "paused": rng.random() < 0.1,
        }

    # ------------------------------------------------------------ run times
    def history_offsets(self, profile: SyncProfile, count: int) -> list[int]:
        """Return ``count`` ascending creation offsets (µs) of a history ending near 0.

        Offsets are relative to a quarter-hour-aligned end; gaps are 5-90 minutes and runs of
        scheduled syncs mostly snap to the first second of a quarter hour.
        """
        rng = self.rng
        snap_rate = 0.0 if profile.schedule_frequency == "never" else 0.7
        offsets: list[int] = []
        t = -rng.randrange(0, 10 * 60_000) * US_PER_MS
        for _ in range(count):
            if rng.random() < snap_rate:
                t = t - t % SCHEDULE_SLOT_US + rng.randrange(1000) * US_PER_MS
            offsets.append(self.fuzz_precision(t, t - t % US_PER_S))
            t -= rng.randrange(5 * 60_000, 90 * 60_000) * US_PER_MS
        offsets.reverse()
        return offsets

    def fuzz_precision(self, us: int, floor_us: int) -> int:
        """Truncate ``us`` to ms (mostly), whole seconds or tenths; never below ``floor_us``."""
        r = self.rng.random()
        if r < 0.10:
            truncated = us - us % US_PER_S
        elif r < 0.15:
            truncated = us - us % 100_000
        else:
            truncated = us - us % US_PER_MS
        if truncated >= floor_us:
            return truncated
        millis = us - us % US_PER_MS
        return millis if millis >= floor_us else max(us, floor_us)

    # ------------------------------------------------------------------ runs
    def make_run(
        self,
        profile: SyncProfile,
        run_id: int,
        created_us: int,
        horizon_us: int,
        status: str | None = None,
    ) -> dict[str, Any]:
        """Build a ``SyncRun``-shaped dict.

        ``status`` None draws a terminal status from the profile; any other value builds a run
        consistent with it (unknown statuses behave like ``working``). No timestamp of the run
        lies after ``max(horizon_us, created_us)``.
        """
        rng = self.rng
        horizon_us = max(horizon_us, created_us)
        if status is None:
            r = rng.random()
            if r < profile.failure_rate:
                status = "failed"
            elif r < profile.failure_rate + profile.skip_rate:
                status = "skipped"
            else:
                status = "completed"
        full_sync = rng.random() < 0.08
        reason, scheduled_us = self._trigger(profile, created_us)
        run: dict[str, Any] = {"id": run_id, "sync_id": profile.sync_id}
        completed_us: int | None = None
        current_step: str | None = None
        error: tuple[str, str, str | None] | None = None
        canceled = False
        if status == "completed":
            self._fill_counts(run, profile, full_sync)
            completed_us = self._end_time(created_us, horizon_us)
            updated_us = self._after(completed_us, horizon_us, 5 * US_PER_MS)
        elif status == "failed":
            self._fill_counts(run, profile, full_sync)
            if rng.random() < 0.5:
                run["records_processed"] = run["records_updated"] = run["records_failed"] = None
            canceled = rng.random() < 0.05
            error = (
                ("SYNC_CANCELED", "The sync run was canceled by a user.", None)
                if canceled
                else rng.choice(_ERRORS)
            )
            end_us = self._end_time(created_us, horizon_us)
            if rng.random() < 0.4:  # like run 93 in the docs: failed but never completed
                current_step = rng.choice(CURRENT_STEPS)
                updated_us = end_us
            else:
                completed_us = end_us
                updated_us = self._after(completed_us, horizon_us, 5 * US_PER_MS)
        elif status == "skipped":
            self._fill_zero_counts(run)
            completed_us = self._after(created_us, horizon_us, 2 * US_PER_S)
            updated_us = self._after(completed_us, horizon_us, 5 * US_PER_MS)
        elif status == "queued":
            self._fill_zero_counts(run)
            updated_us = created_us
        else:  # working, or an undocumented open status such as "cancelling"
            self._fill_counts(run, profile, full_sync)
            run["records_updated"] = run["records_failed"] = 0
            current_step = rng.choice(CURRENT_STEPS)
            canceled = status == "cancelling"
            updated_us = self._after(created_us, horizon_us, horizon_us - created_us)
        created_text = format_us(created_us)
        run["created_at"] = created_text
        if completed_us is not None:
            completed_us = self.fuzz_precision(completed_us, created_us)
        updated_us = self.fuzz_precision(updated_us, completed_us or created_us)
        run["updated_at"] = format_us(updated_us)
        run["completed_at"] = None if completed_us is None else format_us(completed_us)
        run["scheduled_execution_time"] = None if scheduled_us is None else format_us(scheduled_us)
        run["error_code"] = error[0] if error else None
        run["error_message"] = error[1] if error else None
        run["error_detail"] = error[2] if error else None
        run["status"] = status
        run["current_step"] = current_step
        run["canceled"] = canceled
        run["full_sync"] = full_sync
        if reason is not _ABSENT:
            run["sync_trigger_reason"] = reason
        if rng.random() < 0.05:
            run["warehouse_query_seconds"] = round(rng.uniform(0.05, 120.0), 2)
            if rng.random() < 0.5:
                run["batch_count"] = rng.randint(1, 40)
        return run

    def finish_run(
        self, profile: SyncProfile, run: dict[str, Any], after_us: int, horizon_us: int
    ) -> dict[str, Any]:
        """Return ``run`` moved to ``completed`` or ``failed``, finished in (after, horizon]."""
        rng = self.rng
        full_sync = bool(run.get("full_sync"))
        finished = dict(run)
        self._fill_counts(finished, profile, full_sync)
        lower = max(after_us + US_PER_MS, after_us - after_us % US_PER_MS)
        completed_us = lower + int(rng.random() * max(0, horizon_us - lower))
        completed_us = self.fuzz_precision(min(completed_us, max(horizon_us, lower)), lower)
        updated_us = self._after(completed_us, horizon_us, 5 * US_PER_MS)
        updated_us = self.fuzz_precision(updated_us, completed_us)
        canceled = bool(run.get("canceled")) or run.get("status") == "cancelling"
        failed = canceled or rng.random() < 0.15
        error: tuple[str, str, str | None] | None = None
        if canceled:
            error = ("SYNC_CANCELED", "The sync run was canceled by a user.", None)
        elif failed:
            error = rng.choice(_ERRORS)
        finished.update(
            updated_at=format_us(updated_us),
            completed_at=format_us(completed_us),
            error_code=error[0] if error else None,
            error_message=error[1] if error else None,
            error_detail=error[2] if error else None,
            status="failed" if failed else "completed",
            current_step=None,
            canceled=canceled,
        )
        r = rng.random()
        if r < 0.15:
            finished["sync_trigger_reason"] = {"ui_tag": "Retry", "ui_detail": "Retried by Census"}
        elif r < 0.25:
            finished["sync_trigger_reason"] = None
        return finished

    # -------------------------------------------------------------- helpers
    def _trigger(self, profile: SyncProfile, created_us: int) -> tuple[Any, int | None]:
        rng = self.rng
        scheduled_us: int | None = None
        slot_offset = created_us % SCHEDULE_SLOT_US
        if profile.schedule_frequency != "never" and slot_offset < US_PER_S:
            scheduled_us = created_us - slot_offset
            reason: Any = {
                "ui_tag": "Schedule",
                "ui_detail": f"Scheduled to run {profile.schedule_frequency}",
            }
        else:
            r = rng.random()
            if r < 0.5:
                reason = {"ui_tag": "Manual", "ui_detail": f"Manually triggered by {profile.actor}"}
            elif r < 0.8:
                reason = {"ui_tag": "API", "ui_detail": "Triggered via the Census API"}
            elif r < 0.9:
                job = 100_000 + profile.sync_id
                reason = {"ui_tag": "dbt Cloud", "ui_detail": f"Triggered by dbt Cloud job {job}"}
            else:
                reason = {"ui_tag": "Sequence", "ui_detail": "Triggered after sync “Upstream” ✓"}
        r = rng.random()
        if r < 0.04:
            reason = _ABSENT
        elif r < 0.08:
            reason = None
        elif r < 0.12:
            reason["ui_link"] = f"https://app.getcensus.com/syncs/{profile.sync_id}"
        return reason, scheduled_us

    def _fill_counts(self, run: dict[str, Any], profile: SyncProfile, full_sync: bool) -> None:
        rng = self.rng
        source = int(profile.base_records * (0.9 + 0.2 * rng.random()))
        if rng.random() < 0.005:  # an exploded events table: exercises bigint columns
            source = rng.randrange(2**31, 2**41)
        changed = source if full_sync else int(source * profile.churn * rng.random())
        deletes = int(changed * 0.02 * rng.random())
        invalids = int(changed * 0.01 * rng.random()) if rng.random() < 0.2 else 0
        sent = changed - invalids
        failed = int(sent * 0.02 * rng.random()) if rng.random() < 0.15 else 0
        run["source_record_count"] = source
        run["records_processed"] = changed
        run["records_updated"] = sent - failed
        run["records_failed"] = failed
        run["records_invalid"] = invalids
        run["source_record_updates"] = changed
        run["source_record_deletes"] = deletes
        run["source_record_invalids"] = invalids
        run["records_sent"] = sent

    @staticmethod
    def _fill_zero_counts(run: dict[str, Any]) -> None:
        for key in COUNT_KEYS:
            run[key] = 0

    def _end_time(self, created_us: int, horizon_us: int) -> int:
        duration = int(US_PER_S * (20 + self.rng.random() ** 2 * 1180))
        return self._after(created_us, horizon_us, duration)

    def _after(self, base_us: int, horizon_us: int, max_delta_us: int) -> int:
        """A time in [base, base + max_delta], clipped to the horizon but never before base."""
        candidate = base_us + int(self.rng.random() * max(0, max_delta_us))
        return max(base_us, min(candidate, horizon_us))


class _Absent:
    """Marker for 'leave the key out of the run' (distinct from JSON null)."""


_ABSENT: Final = _Absent()

COUNT_KEYS: Final = (
    "source_record_count",
    "records_processed",
    "records_updated",
    "records_failed",
    "records_invalid",
    "source_record_updates",
    "source_record_deletes",
    "source_record_invalids",
    "records_sent",
)
