"""Exit codes of the `syncruns` CLI and the mapping from errors to them."""

import re
from collections.abc import Iterator
from enum import IntEnum
from typing import Any

from dlt.common.configuration.exceptions import ConfigurationException, LookupTrace, LookupTraces
from dlt.common.exceptions import MissingDependencyException

from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusUnreachableError,
)


class ExitCode(IntEnum):
    """Process exit codes; documented in the README."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    AUTH = 3
    UNREACHABLE = 4
    PARTIAL = 5


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
        todo.extend([getattr(current, "exception", None), current.__cause__, current.__context__])


def classify(error: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one-line message for an error raised by a pipeline run."""
    for cause in causes(error):
        if isinstance(cause, CensusAuthError):
            return ExitCode.AUTH, str(cause)
        if isinstance(cause, CensusUnreachableError):
            return ExitCode.UNREACHABLE, str(cause)
        if isinstance(cause, CensusConfigError):
            return ExitCode.BAD_INPUT, str(cause)
        if isinstance(cause, MissingDependencyException):
            return ExitCode.BAD_INPUT, _one_line(str(cause))
        if isinstance(cause, ConfigurationException):
            return ExitCode.BAD_INPUT, _config_message(cause)
    for cause in causes(error):
        if type(cause).__module__.startswith("census_source"):
            return ExitCode.FAILED, str(cause)
    return ExitCode.FAILED, _one_line(f"{type(error).__name__}: {error}")


def _config_message(error: ConfigurationException) -> str:
    fields = list(getattr(error, "fields", None) or [])
    if "api_key" in fields:
        return (
            "No Census API token: set sources.census.api_key in .dlt/secrets.toml "
            "or env SOURCES__CENSUS__API_KEY"
        )
    keys = sorted(_env_keys(getattr(error, "traces", {})), key=len)
    if fields and keys:
        env_key = keys[-1]  # the most specific, cut after the missing field's own name
        marker = f"__{fields[0].upper()}"
        if marker in env_key:
            env_key = env_key[: env_key.index(marker) + len(marker)]
        toml_key = env_key.lower().replace("__", ".")
        return (
            f"Missing configuration {', '.join(fields)} ({getattr(error, 'spec_name', '')}): "
            f"set {toml_key} in .dlt/secrets.toml or env {env_key}"
        )
    return _one_line(str(error))


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
