"""Resolve a source's settings as dlt does, and learn where each value came from.

dlt logs every lookup of a configuration resolution (`ResolvedValueTrace`: the provider's name
and, for TOML files, the file), so the source's own config spec is resolved once here with
that log read back. Explicit values (flags, Python arguments) leave no trace: they are named
by the caller.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlt.common.configuration.container import Container
from dlt.common.configuration.inject import get_fun_spec
from dlt.common.configuration.providers import EnvironProvider
from dlt.common.configuration.providers.provider import ConfigProvider
from dlt.common.configuration.resolve import inject_section, resolve_configuration
from dlt.common.configuration.specs import ConfigSectionContext
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.configuration.utils import ResolvedValueTrace, get_resolved_traces

from pipelines.doctor_report import Setting

ENV_PROVIDER = "Environment Variables"


@dataclass(frozen=True)
class ResolvedSettings:
    """The values the source would run with, and where each came from."""

    values: dict[str, Any]
    origins: list[Setting]


def resolve_settings(
    factory: Any,
    explicit: Mapping[str, Any],
    flags: Mapping[str, str],
    secrets: Mapping[str, str],
    shown: tuple[str, ...],
) -> ResolvedSettings:
    """Resolve the settings of the dlt source `factory` as calling it would.

    `explicit` are the values given as arguments; `flags` names the CLI flag of those that came
    from the command line. `secrets` maps each secret setting to its kind ("workspace API
    token"): only its kind and length are kept. Settings in `shown`, and any not at its
    default, are listed in `origins`.
    """
    spec = get_fun_spec(factory)
    sections = ("sources", factory.section, factory.name)
    log = get_resolved_traces()
    first = len(log.all_traces)
    with inject_section(ConfigSectionContext(sections=sections)):
        config = resolve_configuration(spec(), explicit_value=dict(explicit), accept_partial=True)
    found = _found_traces(log.all_traces[first:])
    values = {name: getattr(config, name, None) for name in spec.get_resolvable_fields()}
    origins = []
    for name, value in values.items():
        if name in explicit:
            origin = "flag" if name in flags else "argument"
            where: str | None = flags.get(name)
        elif name in found:
            origin, where = _origin(found[name])
        else:
            origin, where = "default", None
        if origin == "default" and name not in shown and name not in secrets:
            continue
        if name in secrets:
            text = value if isinstance(value, str) else ""
            length = len(text.strip())
            origins.append(Setting(name, None, origin, where, secrets[name], length))
        else:
            origins.append(Setting(name, value, origin, where))
    return ResolvedSettings(values, origins)


def _found_traces(traces: list[ResolvedValueTrace]) -> dict[str, ResolvedValueTrace]:
    """The lookup that found each field's value (the first with a value wins, as in dlt)."""
    found: dict[str, ResolvedValueTrace] = {}
    for trace in traces:
        if trace.value is not None:
            found.setdefault(trace.key, trace)
    return found


def _origin(trace: ResolvedValueTrace) -> tuple[str, str]:
    """("env", VAR) or ("file", "path [a.b.key]") or (provider name, key) for a lookup."""
    if trace.provider_name == ENV_PROVIDER:
        return "env", EnvironProvider.get_key_name(trace.key, *trace.sections)
    key = ".".join([*trace.sections, trace.key])
    path = _provider_file(trace.provider_name, trace.provider_location)
    if path is not None:
        return "file", f"{path} [{key}]"
    return trace.provider_name, key


def _provider_file(provider_name: str, location: str) -> str | None:
    """The absolute path of the TOML file a value was read from (dlt logs only its name)."""
    provider = _provider(provider_name)
    if provider is None:
        return None
    present = [Path(path) for path in provider.present_locations]
    if not present:
        return None
    global_file = location.startswith("global:")
    name = location.removeprefix("global:")
    candidates = [path for path in present if not name or path.name == name]
    if not candidates:
        return None
    # dlt loads the project's file first and the global one (e.g. /var/dlt) last
    chosen = candidates[-1] if global_file else candidates[0]
    return str(chosen.resolve())


def _provider(name: str) -> ConfigProvider | None:
    providers = Container()[PluggableRunContext].providers.providers
    return next((provider for provider in providers if provider.name == name), None)
