"""The report of `syncruns doctor`: one row per check, rendered as a table or as stable JSON."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TextIO

from pipelines.exit_codes import ExitCode

# Bump when a key of the JSON document is renamed or removed (adding keys keeps it).
JSON_SHAPE_VERSION = 1

# The rows in the order they are shown; a check that is not run for a source is left out.
CHECK_ORDER = (
    "settings",
    "host",
    "token",
    "listing",
    "scope",
    "runs",
    "rate_limit",
    "destination",
    "state",
)


class Status(StrEnum):
    """How one check came out."""

    OK = "ok"  # ✓
    NOTE = "note"  # what was seen, not a problem
    WARN = "warn"  # works, but worth a look
    FAIL = "fail"  # ✗: not ready; `fix` says what to change
    SKIP = "skip"  # not checked, because an earlier check failed


_SYMBOLS = {
    Status.OK: "✓",
    Status.NOTE: "·",
    Status.WARN: "!",
    Status.FAIL: "✗",
    Status.SKIP: "-",
}
_ASCII_SYMBOLS = {
    Status.OK: "ok",
    Status.NOTE: "..",
    Status.WARN: "!!",
    Status.FAIL: "XX",
    Status.SKIP: "--",
}


@dataclass(frozen=True)
class Check:
    """One row: what was checked, what was seen, and (for ✗ and !) how to fix it."""

    name: str
    status: Status
    message: str
    fix: str | None = None
    exit_code: ExitCode = ExitCode.OK  # set on a ✗: the code the CLI exits with

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the row."""
        return {
            "name": self.name,
            "status": self.status.value,
            "message": self.message,
            "fix": self.fix,
            "exit_code": int(self.exit_code),
        }


def ok(name: str, message: str) -> Check:
    """A passed check."""
    return Check(name, Status.OK, message)


def note(name: str, message: str) -> Check:
    """A fact worth showing that is no problem."""
    return Check(name, Status.NOTE, message)


def warn(name: str, message: str, fix: str | None = None) -> Check:
    """A check that passed with something to look at."""
    return Check(name, Status.WARN, message, fix)


def fail(name: str, message: str, fix: str, code: ExitCode = ExitCode.FAILED) -> Check:
    """A failed check, with its fix and exit code."""
    return Check(name, Status.FAIL, message, fix, code)


def skip(name: str, why: str) -> Check:
    """A check not run because of an earlier failure."""
    return Check(name, Status.SKIP, f"not checked: {why}")


def skipped(why: str, *names: str) -> list[Check]:
    """One `skip` row per check name, all for the same reason."""
    return [skip(name, why) for name in names]


@dataclass(frozen=True)
class Setting:
    """One setting and where its value came from; secrets carry only their kind and length."""

    name: str
    value: Any  # None for a secret
    origin: str  # "flag", "argument", "env", "file", "default"
    where: str | None = None  # the env var, the file and key, or the flag
    secret_kind: str | None = None
    secret_length: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (a secret's value is never included)."""
        secret = None
        if self.secret_kind is not None:
            secret = {"kind": self.secret_kind, "length": self.secret_length}
        value = self.value if secret is None else None
        return {
            "name": self.name,
            "value": value if _is_json_scalar(value) else str(value),
            "origin": self.origin,
            "where": self.where,
            "secret": secret,
        }

    def shown(self) -> str:
        """The value as the table shows it."""
        if self.secret_kind is not None:
            if not self.secret_length:
                return "(not set)"
            return f"{self.secret_kind}, {self.secret_length} characters"
        return "(none)" if self.value is None else str(self.value)


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


@dataclass
class DoctorReport:
    """Everything `doctor` found for one source; `ready` when nothing failed."""

    source: str
    settings: list[Setting] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    requests: int = 0  # API requests answered during the checks

    def add(self, checks: Iterable[Check]) -> None:
        """Add rows, replacing earlier rows of the same name."""
        for check in checks:
            self.checks = [row for row in self.checks if row.name != check.name] + [check]

    def check(self, name: str) -> Check | None:
        """The row called `name`, if it was run."""
        return next((row for row in self.checks if row.name == name), None)

    @property
    def ordered(self) -> list[Check]:
        """The rows in table order."""
        rank = {name: index for index, name in enumerate(CHECK_ORDER)}
        return sorted(self.checks, key=lambda row: rank.get(row.name, len(rank)))

    @property
    def ready(self) -> bool:
        """True when no check failed."""
        return all(row.status is not Status.FAIL for row in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        """0 when ready, else the code of the first ✗ in table order."""
        failed = [row for row in self.ordered if row.status is Status.FAIL]
        return failed[0].exit_code if failed else ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        """The documented JSON document (README, `syncruns doctor --json`)."""
        return {
            "doctor": JSON_SHAPE_VERSION,
            "source": self.source,
            "ready": self.ready,
            "exit_code": int(self.exit_code),
            "requests": self.requests,
            "settings": [setting.as_dict() for setting in self.settings],
            "checks": [row.as_dict() for row in self.ordered],
        }

    def to_json(self) -> str:
        """The JSON document as text."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def render(self, ascii_only: bool = False) -> str:
        """The report as the CLI prints it: the settings, then one line per check."""
        symbols = _ASCII_SYMBOLS if ascii_only else _SYMBOLS
        lines = [f"syncruns doctor ({self.source})", "settings:"]
        width = max((len(setting.name) for setting in self.settings), default=0)
        for setting in self.settings:
            where = f"{setting.origin} {setting.where}" if setting.where else setting.origin
            lines.append(f"  {setting.name:<{width}}  {setting.shown()}  [{where}]")
        lines.append("checks:")
        width = max((len(row.name) for row in self.checks), default=0)
        for row in self.ordered:
            lines.append(f"  {symbols[row.status]} {row.name:<{width}}  {row.message}")
            if row.fix and row.status in (Status.FAIL, Status.WARN):
                lines.append(f"    {' ' * width}  fix: {row.fix}")
        verdict = "ready" if self.ready else f"NOT ready (exit {int(self.exit_code)})"
        lines.append(f"{verdict}; {self.requests} API requests")
        return "\n".join(lines)


def can_print_symbols(stream: TextIO) -> bool:
    """Whether `stream` can print ✓ and ✗ (a latin-1 terminal cannot)."""
    try:
        "✓✗·".encode(stream.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True
