"""Exit codes of the `syncruns` CLI and the mapping from errors to them."""

import inspect
import re
from collections.abc import Iterator
from enum import IntEnum
from typing import Any

import duckdb
from dlt.common.configuration.exceptions import (
    ConfigurationException,
    ConfigValueCannotBeCoercedException,
    LookupTrace,
    LookupTraces,
)
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.exceptions import MissingDependencyException
from dlt.destinations.exceptions import DestinationConnectionError
from dlt.pipeline.exceptions import PipelineStepFailed

from census_source import census_source
from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusNotFoundError,
    CensusUnreachableError,
)
from files_com_source.errors import (
    FilesComAuthError,
    FilesComConfigError,
    FilesComRegionError,
    FilesComUnreachableError,
)
from hightouch_source.errors import (
    HightouchAuthError,
    HightouchConfigError,
    HightouchUnreachableError,
)
from pipelines.disk_full import no_space_cause, no_space_message
from pipelines.health_views import HealthViewsError

# Each source's errors by what the user must do; the exit-code table of the README.
AUTH_ERRORS = (CensusAuthError, HightouchAuthError, FilesComAuthError)
UNREACHABLE_ERRORS = (CensusUnreachableError, HightouchUnreachableError, FilesComUnreachableError)
# a Files.com site locked to a host that may not be followed: fixed by setting base_url
CONFIG_ERRORS = (
    CensusConfigError,
    HightouchConfigError,
    FilesComConfigError,
    FilesComRegionError,
    HealthViewsError,
)
SOURCE_MODULES = ("census_source", "hightouch_source", "files_com_source")


class ExitCode(IntEnum):
    """Process exit codes; documented in the README."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    AUTH = 3
    UNREACHABLE = 4
    PARTIAL = 5
    UNHEALTHY = 6  # `syncruns check`: a sync crossed a threshold
    BUSY = 7  # another run/backfill/demo holds the pipeline's lock: try again later
    NO_SPACE = 8  # a device or quota is full: free space, run again (nothing is lost)
    INTERRUPTED = 130  # Ctrl-C (SIGINT), 128 + 2 as a shell reports it (pipelines.interrupts)
    TERMINATED = 143  # SIGTERM, 128 + 15


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (dlt wraps resource errors in step errors)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, name, None) for name in _WRAPPING_ATTRIBUTES]
        todo.extend([*wrapped, current.__cause__, current.__context__])


# where dlt keeps the error it wraps: step failures, load job failures, connection errors
_WRAPPING_ATTRIBUTES = ("exception", "client_exception", "inner_exc")


def classify(error: BaseException, duckdb_path: str | None = None) -> tuple[ExitCode, str]:
    """The exit code and the one-line message for an error raised by a pipeline run.

    `duckdb_path` is the DuckDB file the command used (named when that file is unreadable).
    """
    full = no_space_cause(causes(error))
    if full is not None:
        step_failed = next((c for c in causes(error) if isinstance(c, PipelineStepFailed)), None)
        return ExitCode.NO_SPACE, no_space_message(full, step_failed, duckdb_path)
    for cause in causes(error):
        if isinstance(cause, AUTH_ERRORS):
            return ExitCode.AUTH, str(cause)
        if isinstance(cause, UNREACHABLE_ERRORS):
            return ExitCode.UNREACHABLE, str(cause)
        if isinstance(cause, CONFIG_ERRORS):
            return ExitCode.BAD_INPUT, str(cause)
        if isinstance(cause, MissingDependencyException):
            return ExitCode.BAD_INPUT, _missing_packages(cause.caller, cause.dependencies)
        if isinstance(cause, UnknownDestinationModule):
            return ExitCode.BAD_INPUT, (
                f"--destination {cause.ref!r} is not a dlt destination: use a destination type "
                "such as duckdb, postgres, snowflake or bigquery, or configure "
                f"destination.{cause.ref}.destination_type"
            )
        if isinstance(cause, ConfigValueCannotBeCoercedException):
            return ExitCode.BAD_INPUT, _coercion_message(cause)
        if isinstance(cause, ConfigurationException):
            return ExitCode.BAD_INPUT, _config_message(cause)
        if isinstance(cause, DestinationConnectionError):
            return _connection_message(cause, duckdb_path)
        if isinstance(cause, CensusNotFoundError):
            return ExitCode.FAILED, (
                f"{cause}: check sources.census.base_url (or --base-url / --region); "
                "it should be the API root ending in /api/v1 (or /api/v2 with --api-version v2)"
            )
    for cause in causes(error):
        if type(cause).__module__.startswith(SOURCE_MODULES):
            return ExitCode.FAILED, str(cause)
    return ExitCode.FAILED, _one_line(f"{type(error).__name__}: {error}")


def _missing_packages(caller: str, dependencies: Any) -> str:
    install = " ".join(f'"{dependency}"' for dependency in dependencies)
    return f"The {caller} needs packages that are not installed: pip install {install}"


def _coercion_message(error: ConfigValueCannotBeCoercedException) -> str:
    """Name the setting whose value has the wrong type (never echo the value: it may be secret)."""
    field = error.field_name
    kind = getattr(error.hint, "__name__", str(error.hint))
    if field in inspect.signature(census_source).parameters:
        where = f"sources.census.{field} (env SOURCES__CENSUS__{field.upper()})"
    elif field in RuntimeConfiguration.get_resolvable_fields():
        where = f"runtime.{field} (env RUNTIME__{field.upper()})"
    else:
        where = f"The configuration value {field!r}"
    return f"{where} is not a valid {kind}: fix it in .dlt/config.toml or the environment"


# what DuckDB says of a file that is not (or no longer) a database it can read
_UNREADABLE_FILE = (
    "corrupt database file",
    "not a valid duckdb database",
    "could not read enough bytes",
)


def _connection_message(
    error: DestinationConnectionError, duckdb_path: str | None = None
) -> tuple[ExitCode, str]:
    """DuckDB cannot open its file (bad --duckdb-path, locked, corrupt) or its settings."""
    inner = error.inner_exc
    reason = _one_line(str(inner))
    lowered = reason.lower()
    if not isinstance(inner, duckdb.Error):
        return ExitCode.FAILED, (
            f"Cannot connect to the destination ({error.client_type}): {reason}: "
            "check its credentials and the network"
        )
    if "could not set lock" in lowered:
        return ExitCode.FAILED, (
            f"The DuckDB file is in use by another process ({reason}): "
            "wait for that process to finish or close it, then run again"
        )
    if any(marker in lowered for marker in _UNREADABLE_FILE):
        name = f" {duckdb_path!r}" if duckdb_path else ""
        return ExitCode.BAD_INPUT, (
            f"Cannot open the DuckDB file{name}: it is not a readable DuckDB database ({reason}): "
            "move it away (or restore a backup) and run again to start a new file, "
            "or fix --duckdb-path to name another file"
        )
    if "memory" in lowered:
        return ExitCode.BAD_INPUT, (
            f"DuckDB refused its memory limit ({reason}): fix --duckdb-memory-limit (e.g. 64MB)"
        )
    if isinstance(inner, duckdb.IOException):
        return ExitCode.BAD_INPUT, f"Cannot open the DuckDB file ({reason}): fix --duckdb-path"
    name = f" {duckdb_path!r}" if duckdb_path else ""
    return ExitCode.BAD_INPUT, (
        f"DuckDB could not open the file{name} ({reason}): check --duckdb-path and its settings"
    )


SOURCE_NAMES = {"census": "Census", "hightouch": "Hightouch", "files_com": "Files.com"}


def _source_section(traces: Any) -> str:
    """The source whose key dlt looked up (`SOURCES__HIGHTOUCH__...`), Census if none."""
    for key in _env_keys(traces):
        parts = key.split("__")
        if len(parts) > 2 and parts[0] == "SOURCES" and parts[1].lower() in SOURCE_NAMES:
            return parts[1].lower()
    return "census"


def _config_message(error: ConfigurationException) -> str:
    fields = list(getattr(error, "fields", None) or [])
    if "api_key" in fields:
        section = _source_section(getattr(error, "traces", {}))
        name = SOURCE_NAMES.get(section, section)
        return (
            f"No {name} API key: set sources.{section}.api_key in .dlt/secrets.toml "
            f"or env SOURCES__{section.upper()}__API_KEY"
        )
    keys = sorted(_env_keys(getattr(error, "traces", {})), key=len)
    if fields and keys:
        env_key = keys[-1]  # the most specific, cut after the missing field's own name
        marker = f"__{fields[0].upper()}"
        if marker in env_key:
            env_key = env_key[: env_key.index(marker) + len(marker)]
        toml_key = env_key.lower().replace("__", ".")
        missing = _uninstalled_destination(env_key)
        if missing:
            return missing  # installing comes first: the credentials are asked for next
        return (
            f"Missing configuration {', '.join(fields)} ({getattr(error, 'spec_name', '')}): "
            f"set {toml_key} in .dlt/secrets.toml or env {env_key}"
        )
    return _one_line(str(error))


def _uninstalled_destination(env_key: str) -> str | None:
    """For a DESTINATION__<NAME>__... key: the install hint when that client is not installed."""
    parts = env_key.split("__")
    if len(parts) < 2 or parts[0] != "DESTINATION":
        return None
    name = parts[1].lower()
    try:
        factory = Destination.from_reference(name)
        if factory is not None:
            factory.client_class  # noqa: B018 (imports the client library)
    except ImportError:
        return _missing_packages(f"{name} destination", [f"dlt[{name}]"])
    except Exception:  # not a plain destination type: keep the credentials message
        return None
    return None


def _env_keys(traces: Any) -> Iterator[str]:
    """Environment keys dlt looked up, in sections a user would set (sources/destination)."""
    items = traces.values() if isinstance(traces, dict) else [traces]
    for item in items:
        for trace in item if isinstance(item, list) else [item]:
            if isinstance(trace, LookupTraces):
                yield from _env_keys(trace.traces)
            elif isinstance(trace, LookupTrace) and trace.provider == "Environment Variables":
                for section in ("DESTINATION__", "SOURCES__"):
                    if section in trace.key:  # drop a pipeline-name prefix
                        yield trace.key[trace.key.index(section) :]


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:500]
