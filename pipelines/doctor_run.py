"""The steps every source's `diagnose()` shares: settings, destination, state, then the API.

A source supplies what differs (`SourceProbe`): how to validate its settings, how to probe its
API in a few requests, and whether the stored cursors fit what the API lists now.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from dlt.common.schema import Schema

from pipelines.destinations import duckdb_destination
from pipelines.doctor_destination import check_destination
from pipelines.doctor_http import Recorder
from pipelines.doctor_report import Check, DoctorReport, Setting, fail, note, ok, skip
from pipelines.doctor_settings import ResolvedSettings, resolve_settings
from pipelines.doctor_state import FoundState, find_state, local_schema, ownership
from pipelines.exit_codes import ExitCode

API_CHECKS = ("host", "token", "listing", "runs")


@dataclass(frozen=True)
class Target:
    """Where the source would load. `destination` is a dlt destination factory or a name;
    `duckdb` alone means the file `<pipeline_name>.duckdb` in the current folder."""

    destination: Any = "duckdb"
    dataset_name: str = ""
    pipeline_name: str = ""
    pipelines_dir: str | None = None
    # target setting -> the CLI flag it came from; None: not called from the command line
    flags: Mapping[str, str] | None = None

    def factory(self) -> Any:
        """The destination factory to check."""
        if self.destination == "duckdb":
            return duckdb_destination(Path(f"{self.pipeline_name}.duckdb").resolve())
        return self.destination

    def destination_type(self) -> str | None:
        """`duckdb`, `postgres`, ...: as the pipeline state records it."""
        if isinstance(self.destination, str):
            return self.destination.rsplit(".", 1)[-1]
        return str(getattr(self.destination, "destination_type", "")).rsplit(".", 1)[-1] or None

    def settings(self) -> list[Setting]:
        """The target's settings, with their origin."""
        rows = []
        for name, value in (
            ("destination", self.destination_type() or str(self.destination)),
            ("dataset", self.dataset_name),
            ("pipeline_name", self.pipeline_name),
        ):
            flag = (self.flags or {}).get(name)
            unflagged = "argument" if self.flags is None else "default"
            rows.append(Setting(name, value, "flag" if flag else unflagged, flag))
        return rows


@dataclass
class Probe:
    """What a source's API probe found: its rows, and facts the state check compares."""

    checks: list[Check]
    listed_ids: set[str] | None = None  # sync ids listed, as the dataset stores them
    listing_complete: bool = False  # every page of the sync list was read
    id_problem: str | None = None  # why listed ids do not fit the dataset's id type


class SourceProbe(Protocol):
    """The source-specific parts of `diagnose()`."""

    name: str
    factory: Any  # the dlt source function (its config spec and sections)
    secrets: Mapping[str, str]  # secret setting -> its kind, for the settings table
    shown: tuple[str, ...]  # settings always listed, even at their default
    config_error: type[Exception]  # what `validate` raises for a bad setting
    recorder: Recorder  # the answers the probe received

    def validate(self, values: Mapping[str, Any]) -> None:
        """Raise `config_error` for settings the source would refuse."""

    def probe(
        self, values: Mapping[str, Any], schema: Schema | None, state: FoundState | None
    ) -> Probe:
        """Check host, token, listing and runs (and source extras) in a few requests."""

    def continuity(
        self, state: FoundState, probe: Probe, schema: Schema | None, values: Mapping[str, Any]
    ) -> Check:
        """The `state` row: whether a run continues from the stored cursors."""


class ProbeBase:
    """What every source's probe shares: its recorder, and validation by the source itself."""

    factory: Any

    def __init__(self) -> None:
        self.recorder = Recorder()

    def validate(self, values: Mapping[str, Any]) -> None:
        """The source's own validation of every setting (no request is made)."""
        type(self).factory(**values)


def diagnose_source(
    source: SourceProbe,
    explicit: Mapping[str, Any],
    flags: Mapping[str, str],
    target: Target,
    secret_kind: Callable[[Mapping[str, Any]], str] | None = None,
) -> DoctorReport:
    """Run every check for one source and return the report (nothing is loaded or changed)."""
    report = DoctorReport(source.name)
    settings = resolve_settings(source.factory, explicit, flags, source.secrets, source.shown)
    if secret_kind is not None:
        settings = _with_secret_kind(settings, secret_kind(settings.values))
    report.settings = [*settings.origins, *target.settings()]
    settings_ok = _validate(source, settings.values, report)

    dataset = check_destination(
        target.factory(), target.dataset_name, target.pipeline_name, source.name
    )
    report.add([dataset.check])
    try:
        found = find_state(target.pipeline_name, target.pipelines_dir, dataset.stored_state)
        schema = (
            local_schema(target.pipeline_name, target.pipelines_dir, source.name)
            or dataset.stored_schema
        )
    except Exception as error:
        found, schema = None, dataset.stored_schema
        report.add([fail("state", f"cannot read the pipeline state: {error}", _STATE_FIX)])

    if settings_ok:
        probe = source.probe(settings.values, schema, found)
        report.add(probe.checks)
    else:
        probe = Probe([skip(name, "the settings are not valid") for name in API_CHECKS])
        report.add(probe.checks)
    report.requests = source.recorder.count

    if report.check("state") is None:
        report.add([_state_row(source, target, found, probe, schema, settings.values)])
    return report


_STATE_FIX = "move the pipeline folder away (dlt restores the state from the dataset)"


def _validate(source: SourceProbe, values: Mapping[str, Any], report: DoctorReport) -> bool:
    try:
        source.validate(values)
    except source.config_error as error:
        report.add([fail("settings", str(error), _SETTINGS_FIX, ExitCode.BAD_INPUT)])
        return False
    report.add([ok("settings", f"the {source.name} source accepts them")])
    return True


_SETTINGS_FIX = "change the setting named above (its origin is listed under settings:)"


def _state_row(
    source: SourceProbe,
    target: Target,
    found: FoundState | None,
    probe: Probe,
    schema: Schema | None,
    values: Mapping[str, Any],
) -> Check:
    if found is None:
        return note(
            "state",
            f"no state for pipeline {target.pipeline_name!r} yet: the first run loads every "
            "sync's full history",
        )
    wrong = ownership(
        found, source.name, target.dataset_name, target.destination_type(), target.pipeline_name
    )
    return wrong or source.continuity(found, probe, schema, values)


def _with_secret_kind(settings: ResolvedSettings, kind: str) -> ResolvedSettings:
    origins = [
        replace(row, secret_kind=kind) if row.secret_kind is not None else row
        for row in settings.origins
    ]
    return ResolvedSettings(settings.values, origins)


def compare_cursors(
    cursor_ids: set[str], probe: Probe, what: str, where: str, mismatch_fix: str
) -> Check:
    """The `state` row from the sync ids with cursors against the sync ids listed now."""
    if not cursor_ids:
        return ok("state", f"{where}: no cursors yet; the first run loads every sync's history")
    listed = probe.listed_ids
    if listed is None:
        return note(
            "state",
            f"{where}: cursors of {len(cursor_ids)} syncs; not compared (the sync list was not "
            "read)",
        )
    matched = cursor_ids & listed
    if not matched:
        sample = ", ".join(sorted(listed, key=lambda text: (len(text), text))[:3]) or "none"
        return fail(
            "state",
            f"{where}: none of the {len(cursor_ids)} syncs with cursors is in {what}'s sync list "
            f"({len(listed)} read, e.g. {sample}): a run would load all of them as new syncs",
            mismatch_fix,
            ExitCode.BAD_INPUT,
        )
    new = len(listed - cursor_ids)
    gone = len(cursor_ids - listed) if probe.listing_complete else 0
    extra = f"; {new} listed syncs have no cursor yet and load their full history" if new else ""
    extra += f"; {gone} syncs with cursors are no longer listed" if gone else ""
    return ok("state", f"{where}: {len(matched)} syncs continue from their cursors{extra}")
