"""Seeded factory for API-shaped Files.com syncs and sync runs.

Every random draw comes from the ``random.Random`` given to :class:`Generator`, so a world built
from the same seed is identical. Field names and types follow the SyncRun model of the Files.com
REST API reference; values are invented but plausible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

from simulator_common.timefmt import US_PER_MS, US_PER_S, format_us, parse_us

IN_PROGRESS: Final = "in_progress"
TERMINAL_STATUSES: Final = frozenset({"success", "failure", "partial_failure", "skipped"})
"""Documented statuses after which a run no longer changes; anything else is open."""

SITE_ID: Final = 41_207

_STATUS_WEIGHTS: Final = (
    ("success", 70),
    ("failure", 11),
    ("partial_failure", 9),
    ("skipped", 10),
)
_SERVER_TYPES: Final = (
    None,
    "s3",
    "azure",
    "sharepoint",
    "google_cloud_storage",
    "sftp",
    "box",
    "dropbox",
)
_SYNC_NAMES: Final = (
    "Azure to SharePoint Sync",
    "Nightly S3 archive",
    "Partner SFTP inbound",
    "Rapports clients → Box",
    "営業資料 mirror",
    "Backups (GCS) 🗄️",
    "Dropbox intake",
    "Finance exports",
)
_EVENT_ERRORS: Final = (
    "Permission denied writing /Finance/2025/Q3/ledger.xlsx",
    "Remote server closed the connection during upload of /exports/big.csv",
    "File name contains characters not allowed by SharePoint: “Résumé: final?.docx”",
    "Quota exceeded on destination (507 Insufficient Storage)",
    "Checksum mismatch for /archive/2025-01-01.tar.gz",
    "ファイルが見つかりません: /共有/報告書.pdf",
    "Timed out after 300 s listing /incoming",
)


@dataclass(frozen=True)
class SyncProfile:
    """A Files.com Sync: what its runs share."""

    sync_id: int
    sync_name: str
    workspace_id: int
    src_remote_server_type: str | None
    dest_remote_server_type: str | None
    dry_run: bool
    typical_files: int
    failure_bias: float


class Generator:
    """Builds syncs and runs from a seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def new_profile(self, sync_id: int) -> SyncProfile:
        """A new sync with randomly chosen names, server types and habits."""
        rng = self.rng
        return SyncProfile(
            sync_id=sync_id,
            sync_name=_SYNC_NAMES[(sync_id - 1) % len(_SYNC_NAMES)],
            workspace_id=rng.choice((0, 0, 3, 17)),
            src_remote_server_type=rng.choice(_SERVER_TYPES),
            dest_remote_server_type=rng.choice(_SERVER_TYPES),
            dry_run=rng.random() < 0.1,
            typical_files=rng.choice((3, 40, 800, 25_000)),
            failure_bias=rng.choice((0.0, 0.0, 0.1, 0.4)),
        )

    def fuzz_precision(self, created_us: int, floor_us: int) -> int:
        """Cut a time to whole seconds (mostly), tenths or milliseconds, not below ``floor_us``.

        The API then mixes ``…07Z``, ``…07.5Z`` and ``…07.546Z``, which sort wrongly as strings.
        """
        draw = self.rng.random()
        unit = US_PER_S if draw < 0.7 else 100_000 if draw < 0.85 else US_PER_MS
        cut = created_us - created_us % unit
        return cut if cut >= floor_us else created_us - created_us % US_PER_MS

    def status(self, profile: SyncProfile) -> str:
        """A terminal status drawn with the sync's failure bias."""
        rng = self.rng
        if rng.random() < profile.failure_bias:
            return "failure" if rng.random() < 0.6 else "partial_failure"
        names = [name for name, _ in _STATUS_WEIGHTS]
        weights = [weight for _, weight in _STATUS_WEIGHTS]
        return rng.choices(names, weights)[0]

    def make_run(
        self,
        profile: SyncProfile,
        run_id: int,
        created_us: int,
        now_us: int,
        status: str | None = None,
    ) -> dict[str, Any]:
        """A run created at ``created_us``; terminal ones completed at or before ``now_us``."""
        status = self.status(profile) if status is None else status
        run: dict[str, Any] = {
            "id": run_id,
            "body": "",
            "bytes_synced": 0,
            "compared_files": 0,
            "compared_folders": 0,
            "completed_at": None,
            "created_at": format_us(created_us),
            "dest_remote_server_type": profile.dest_remote_server_type,
            "dry_run": profile.dry_run,
            "errored_files": 0,
            "estimated_bytes_count": 0,
            "event_errors": [],
            "log_url": f"https://logs.files-sim.example/sync_runs/{run_id}.log",
            "runtime": None,
            "site_id": SITE_ID,
            "workspace_id": profile.workspace_id,
            "src_remote_server_type": profile.src_remote_server_type,
            "status": status,
            "successful_files": 0,
            "sync_id": profile.sync_id,
            "sync_name": profile.sync_name,
            "updated_at": format_us(created_us),
        }
        if status in TERMINAL_STATUSES:
            limit = max(created_us, now_us)
            done_us = min(limit, created_us + self.rng.randint(1, 900) * US_PER_S)
            self._finish(profile, run, created_us, max(created_us, done_us), status)
        else:
            self._progress(profile, run)
        return run

    def finish_run(
        self, profile: SyncProfile, run: dict[str, Any], after_us: int, until_us: int
    ) -> dict[str, Any]:
        """A copy of an open run finished at a time in (after, until] with a terminal status."""
        created_us = parse_us(run["created_at"])
        low = max(after_us, created_us) + US_PER_MS
        done_us = until_us if low > until_us else self.rng.randint(low, until_us)
        done_us -= done_us % US_PER_MS
        finished = dict(run)
        self._finish(profile, finished, created_us, max(done_us, created_us), self.status(profile))
        return finished

    def _progress(self, profile: SyncProfile, run: dict[str, Any]) -> None:
        """Counts of a run still going: some files compared, maybe a first error already."""
        rng = self.rng
        compared = rng.randint(0, profile.typical_files)
        run.update(
            body="Sync in progress",
            compared_files=compared,
            compared_folders=rng.randint(0, 1 + compared // 50),
            successful_files=compared // 2,
            bytes_synced=(compared // 2) * rng.randint(1_000, 4_000_000),
            estimated_bytes_count=compared * rng.randint(1_000, 4_000_000),
            event_errors=[rng.choice(_EVENT_ERRORS)] if rng.random() < 0.3 else [],
            errored_files=0,
        )
        run["errored_files"] = len(run["event_errors"])
        run["live_transfers"] = live_transfers(run["id"], parse_us(run["created_at"]))

    def _finish(
        self,
        profile: SyncProfile,
        run: dict[str, Any],
        created_us: int,
        done_us: int,
        status: str,
    ) -> None:
        rng = self.rng
        compared = 0 if status == "skipped" else rng.randint(1, profile.typical_files)
        errors: list[str] = []
        if status in ("failure", "partial_failure"):
            errors = rng.sample(_EVENT_ERRORS, rng.randint(1, 3))
        errored = 0 if not errors else max(len(errors), compared // 10)
        successful = 0 if status == "failure" else max(0, compared - errored)
        size = rng.randint(1_000, 4_000_000)
        runtime = round((done_us - created_us) / US_PER_S, 3)
        run.pop("live_transfers", None)  # sent only while a run is in_progress
        run.update(
            body=_BODIES[status].format(compared=compared, errored=errored),
            compared_files=compared,
            compared_folders=0 if compared == 0 else rng.randint(1, 1 + compared // 50),
            successful_files=successful,
            errored_files=errored,
            bytes_synced=successful * size,
            estimated_bytes_count=compared * size,
            event_errors=errors,
            status=status,
            completed_at=format_us(done_us),
            updated_at=format_us(done_us),
            runtime=float(runtime),
        )


_TRANSFER_FILES: Final = (
    "Finance/2025/Q3/ledger.xlsx",
    "exports/big.csv",
    "archive/2025-01-01.tar.gz",
    "共有/報告書.pdf",
    "incoming/partner feed (1).json",
)
_TRANSFER_STATES: Final = ("copying", "copying", "verifying", "queued")


def live_transfers(run_id: int, created_us: int) -> list[dict[str, Any]]:
    """The in-progress file transfers of an open run (SyncRunLiveTransfer), 0 to 3 of them.

    Drawn from the run id alone, not the world's random source, so worlds built before this
    field existed keep every other value.
    """
    rng = random.Random(run_id * 7_919 + 3)
    transfers = []
    for path in rng.sample(_TRANSFER_FILES, rng.choice((0, 1, 2, 2, 3))):
        total = rng.randint(1_000, 5_000_000_000)
        copied = rng.randint(0, total)
        transfers.append(
            {
                "path": path,
                "status": rng.choice(_TRANSFER_STATES),
                "bytes_copied": copied,
                "bytes_total": total,
                "percentage": round(copied / total, 4),
                "eta": f"{rng.randint(1, 90)} minutes",
                "started_at": format_us(created_us + rng.randint(1, 120) * US_PER_S),
            }
        )
    return transfers


_BODIES: Final = {
    "success": "Synced {compared} files.",
    "failure": "Sync failed: {errored} errors.",
    "partial_failure": "Synced with {errored} errors out of {compared} files.",
    "skipped": "Skipped: the previous run of this sync was still in progress.",
}
