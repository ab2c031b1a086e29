"""`diagnose()`: prove the Census settings, token, API and destination in a few requests.

Like Airbyte's `check` or `dbt debug`: nothing is loaded and no state changes. The API is read
through this source's own client (`CensusApi`), so its envelope, paging and error checks are the
ones a load applies. At most 6 requests: the sync list (1-2 pages), the first runs page of up to
3 syncs until one has 2 runs or more, and a second runs page; a rejected token is tried once on
the other API version instead, to tell a token of the other kind from a wrong one.
"""

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from dlt.common.schema import Schema

from census_source import census_source, v2_facts
from census_source.client import CensusApi
from census_source.config import (
    normalize_sync_ids,
    parse_api_version,
    resolve_base_url,
    validate_api_key,
    validate_group_ids,
    with_v2_paths,
)
from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusGroupError,
    CensusNotFoundError,
    CensusResponseError,
    CensusSourceError,
    CensusUnreachableError,
    CensusV1RetiredError,
)
from census_source.ids import (
    IdCodec,
    cursors_api_version,
    dataset_id_type,
    id_codec,
    renumbered_syncs,
)
from census_source.reader import NEWEST_FIRST, created_at
from census_source.settings import SECRET_CONFIG_KEY, SECRET_ENV_VAR
from census_source.tables import RUN_COUNT_FIELDS, RUN_FLAG_FIELDS, RUN_TEXT_FIELDS, RUN_TIME_FIELDS
from census_source.versions import VERSIONS, ApiVersion
from pipelines.doctor_http import rate_limit_row, reached, resolve_host, unreachable
from pipelines.doctor_report import Check, DoctorReport, Status, fail, note, ok, skip, skipped, warn
from pipelines.doctor_run import Probe, ProbeBase, Target, compare_cursors, diagnose_source
from pipelines.doctor_state import FoundState, cursor_sync_ids, resource_state
from pipelines.exit_codes import ExitCode
from syncruns_common.contract import OrderCheck

__all__ = ["diagnose"]

MAX_LIST_PAGES = 2
MAX_RUN_SYNCS = 3
RUN_FIELDS = (
    "id",
    "sync_id",
    "created_at",
    *RUN_TIME_FIELDS,
    *RUN_COUNT_FIELDS,
    *RUN_TEXT_FIELDS,
    *RUN_FLAG_FIELDS,
)
PUBLISHED = (
    "Census publishes no limit; the source sends at most rate_limit (default 100) per second"
)
HOST_HINT = "sources.census.base_url / region (--base-url / --region)"


def diagnose(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    region: str | None = None,
    api_version: str | None = None,
    group_id: str | Sequence[str] | None = None,
    sync_ids: Sequence[int | str] | None = None,
    v2_paths: Mapping[str, str] | None = None,
    destination: Any = "duckdb",
    dataset_name: str = "census",
    pipeline_name: str = "census_syncruns",
    pipelines_dir: str | None = None,
    flags: Mapping[str, str] | None = None,
) -> DoctorReport:
    """Check everything a Census load needs and return the report (`.ready`, `.exit_code`).

    Settings not given here are resolved from dlt config (`[sources.census]`, env
    `SOURCES__CENSUS__*`) as `census_source()` resolves them. `destination` is a dlt
    destination factory or name (`"duckdb"`: the file `<pipeline_name>.duckdb` here).
    `flags` names the CLI flag each given setting came from (the CLI sets it; None: called
    from Python). A token refused on its region's host is tried on the other region's root
    (`resolve_base_url` of the other region, so tests point the region roots at simulators).
    """
    given = {
        "api_key": api_key,
        "base_url": base_url,
        "region": region,
        "api_version": api_version,
        "group_id": group_id,
        "sync_ids": sync_ids,
        "v2_paths": dict(v2_paths) if v2_paths is not None else None,
    }
    explicit = {name: value for name, value in given.items() if value is not None}
    target = Target(destination, dataset_name, pipeline_name, pipelines_dir, flags)
    return diagnose_source(CensusProbe(), explicit, flags or {}, target, _token_kind)


def _token_kind(values: Mapping[str, Any]) -> str:
    try:
        return parse_api_version(values.get("api_version") or "v1").token_kind
    except CensusConfigError:
        return "API token"


class CensusProbe(ProbeBase):
    """The Census parts of `diagnose()`."""

    name = "census"
    factory = census_source
    secrets: Mapping[str, str] = {"api_key": "API token"}
    shown: tuple[str, ...] = ("api_version", "region", "base_url", "group_id")
    config_error: type[Exception] = CensusConfigError

    def probe(
        self, values: Mapping[str, Any], schema: Schema | None, state: FoundState | None
    ) -> Probe:
        """Host, token, sync list, group scope, one sync's runs, rate-limit headers."""
        version = parse_api_version(values["api_version"])
        token = validate_api_key(values["api_key"])
        groups = validate_group_ids(values.get("group_ids"), values.get("group_id"), version) or ()
        version = with_v2_paths(version, values.get("v2_paths"), groups or None)
        scope = groups[0] if len(groups) == 1 else None  # several: the whole list is read
        root = resolve_base_url(values["region"], values["base_url"], version)
        selected = normalize_sync_ids(values["sync_ids"], numeric=version.numeric_ids)
        id_type = dataset_id_type(schema or Schema("census"), version)
        codec = id_codec(id_type)
        api = self._api(root, token, version, scope)
        dns = resolve_host(root, HOST_HINT)
        if dns is not None:
            return Probe([dns, *skipped("the host does not resolve", "token", "listing")])
        try:
            syncs, complete = _list_syncs(api)
        except CensusSourceError as error:
            return Probe(self._listing_failed(error, root, token, version, values))
        probe = Probe([reached(root, self.recorder), ok("token", _accepted(version, root))])
        pages = "every page read" if complete else f"the first {MAX_LIST_PAGES} pages read"
        probe.checks.append(
            ok(
                "listing",
                f"GET /syncs: {len(syncs)} syncs ({pages}), documented envelope "
                "(status, data, pagination.next_page)",
            )
        )
        probe.listing_complete = complete
        probe.checks.append(_scope_row(syncs, version, groups))
        try:
            probe.listed_ids = {str(codec(sync.get("id"))) for sync in syncs}
        except CensusResponseError as error:
            probe.id_problem = str(error)
        cursors = cursor_sync_ids(state, "census")
        probe.checks.append(self._runs_row(api, syncs, selected, cursors, codec, id_type, probe))
        probe.checks.append(rate_limit_row(self.recorder, PUBLISHED))
        return probe

    def continuity(
        self, state: FoundState, probe: Probe, schema: Schema | None, values: Mapping[str, Any]
    ) -> Check:
        """Whether a run continues from the cursors (also across a v1 -> v2 switch)."""
        version = parse_api_version(values["api_version"])
        history = _dataset_history(schema)
        where = f"{state.where}, dataset loaded with {history or 'no API yet'}"
        switching = history is not None and version.name not in history
        if probe.id_problem is not None:
            return fail(
                "state",
                f"{where}: API {version.name} {probe.id_problem.removeprefix('answered ')}",
                "load this API version into a new dataset: --dataset census_"
                f"{version.name} --pipeline-name census_{version.name}_syncruns",
                ExitCode.BAD_INPUT,
            )
        stop = _renumbered(state, probe, schema, version, values)
        if stop is not None:
            return fail(
                "state",
                f"{where}: {stop}",
                f"load API {version.name} into a new dataset (--dataset census_{version.name} "
                f"--pipeline-name census_{version.name}_syncruns); a run on this one stops",
                ExitCode.BAD_INPUT,
            )
        row = compare_cursors(
            cursor_sync_ids(state, "census"),
            probe,
            f"API {version.name}",
            where,
            "the ids differ between the cursors and this API version; to switch versions, load "
            f"API {version.name} into a new dataset (--dataset census_{version.name} "
            f"--pipeline-name census_{version.name}_syncruns)",
        )
        if switching and row.status is Status.OK:
            return ok("state", f"{row.message}: the switch to API {version.name} continues there")
        return row

    def _api(self, root: str, token: str, version: ApiVersion, scope: str | None) -> CensusApi:
        api = CensusApi(root, token, None, version, scope)
        # the client's own session, so every answer (retries too) is seen as the product sees it
        self.recorder.attach(api._client.session)
        return api

    def _listing_failed(
        self,
        error: CensusSourceError,
        root: str,
        token: str,
        version: ApiVersion,
        values: Mapping[str, Any],
    ) -> list[Check]:
        if not self.recorder.count:
            return [unreachable(root, error, HOST_HINT), *skipped("no answer", "token", "listing")]
        host = reached(root, self.recorder)
        if isinstance(error, CensusAuthError):
            token_row = self._token_rejected(error, root, token, version, values)
            return [host, token_row, *skipped("the token was not accepted", "listing", "runs")]
        if isinstance(error, CensusV1RetiredError):
            return [
                host,
                skip("token", "API v1 is retired"),
                fail(
                    "listing",
                    str(error),
                    "switch to API v2: --api-version v2 (sources.census.api_version = 'v2') "
                    f"with a personal access token in {SECRET_CONFIG_KEY}",
                    ExitCode.BAD_INPUT,
                ),
                skip("runs", "API v1 is retired"),
            ]
        if isinstance(error, CensusGroupError):  # a group needed, or one the API does not know
            fix = (
                "set --group-id to a group the token sees"
                if values.get("group_id") or values.get("group_ids")
                else "set sources.census.group_id (CLI --group-id; several: group_ids): "
                + v2_facts.GROUP_LOOKUP_HINT
            )
            return [
                host,
                ok("token", _accepted(version, root)),
                fail("scope", str(error), fix, ExitCode.BAD_INPUT),
                *skipped("no group the API takes", "listing", "runs"),
            ]
        if isinstance(error, CensusConfigError):  # v2's sync list answered 404 (paths moved)
            return [
                host,
                skip("token", "the sync list is not at this path"),
                fail(
                    "listing",
                    str(error),
                    "set sources.census.v2_paths.syncs to the path Census moved the sync list "
                    "to (README 'Census API v2'), or fix sources.census.base_url / region",
                    ExitCode.BAD_INPUT,
                ),
                skip("runs", "no syncs"),
            ]
        code = ExitCode.UNREACHABLE if isinstance(error, CensusUnreachableError) else 1
        fix = (
            "check that base_url is the API root ending in /api/" + version.name
            if isinstance(error, CensusNotFoundError)
            else "retry later; if it persists, report the answer to Census"
        )
        rows = [host, skip("token", "the sync list did not answer 200")]
        return [*rows, fail("listing", str(error), fix, ExitCode(code)), skip("runs", "no syncs")]

    def _token_rejected(
        self,
        error: CensusAuthError,
        root: str,
        token: str,
        version: ApiVersion,
        values: Mapping[str, Any],
    ) -> Check:
        """The `token` row. The same API version on the other region's host is asked once
        whether the token is its own, then the other API version whether it is its kind."""
        region = _region_of(root, values, version)
        if region is not None:
            other_region, other_region_root = _other_region(region, version)
            if self._accepts(other_region_root, token, version):
                other_host = urlsplit(other_region_root).netloc
                return fail(
                    "token",
                    f"API {version.name} at {urlsplit(root).netloc} (region {region}) rejected the "
                    f"token, and {other_host} accepts it: this token belongs to {other_host}: set "
                    f"--region {other_region}",
                    f"set --region {other_region} (sources.census.region = '{other_region}')"
                    + (", and remove sources.census.base_url" if values.get("base_url") else ""),
                    ExitCode.AUTH,
                )
        other = next(v for v in VERSIONS.values() if v is not version)
        other_root = _other_root(root, values, version, other)
        accepted = other_root is not None and self._accepts(other_root, token, other)
        if accepted:
            return fail(
                "token",
                f"API {version.name} rejected the token, and API {other.name} accepts it: it is "
                f"a {other.token_kind}, and API {version.name} takes a {version.token_kind}",
                f"set a {version.token_kind} in {SECRET_CONFIG_KEY} (env {SECRET_ENV_VAR}), or "
                f"use API {other.name}: sources.census.api_version = '{other.name}' "
                f"(--api-version {other.name})",
                ExitCode.AUTH,
            )
        fix = f"set a valid {version.token_kind} in {SECRET_CONFIG_KEY} (env {SECRET_ENV_VAR})"
        if region is None:  # a base_url of no region: the other region's host was not asked
            fix += "; a token of the other region's host: set --region (and no --base-url)"
        return fail("token", str(error), fix, ExitCode.AUTH)

    def _accepts(self, root: str, token: str, version: ApiVersion) -> bool:
        """Whether the sync list at `root` answers the token (one request)."""
        try:
            next(self._api(root, token, version, None).sync_pages(), None)
        except CensusSourceError:
            return False
        return True

    def _runs_row(
        self,
        api: CensusApi,
        syncs: list[dict[str, Any]],
        selected: tuple[str, ...] | None,
        cursors: set[str],
        codec: IdCodec,
        id_type: str,
        probe: Probe,
    ) -> Check:
        """One sync's runs: newest first, ids of the dataset's type, the documented fields."""
        if probe.id_problem is not None:
            return fail(
                "runs", f"GET /syncs {probe.id_problem}", _NEW_DATASET_FIX, ExitCode.BAD_INPUT
            )
        tried: list[str] = []
        for sync in _candidates(syncs, selected, cursors)[:MAX_RUN_SYNCS]:
            sync_id = str(sync.get("id"))
            tried.append(sync_id)
            try:
                runs, pages = _read_runs(api, sync_id)
            except CensusNotFoundError as error:
                fix = _ORDER_FIX
                if api.version.name == "v2":
                    fix = (
                        "set sources.census.v2_paths.sync_runs to the path Census moved a sync's "
                        "runs to (README 'Census API v2'); a run stops the same way"
                    )
                return fail("runs", f"sync {sync_id}: {error}", fix, ExitCode.FAILED)
            except CensusSourceError as error:
                return fail("runs", f"sync {sync_id}: {error}", _ORDER_FIX, ExitCode.FAILED)
            if len(runs) >= 2:
                return _inspect_runs(sync_id, runs, pages, codec, id_type)
        if not tried:
            return note("runs", "no syncs listed: nothing to read")
        return warn(
            "runs",
            f"syncs {', '.join(tried)} have fewer than 2 runs: order and fields not checked",
            "run doctor again once a sync has run, or pick one with --sync-id",
        )


_ORDER_FIX = "report the answer to Census; the source stops this sync with the same error"


def _accepted(version: ApiVersion, root: str) -> str:
    return f"accepted by API {version.name} ({root}) as its {version.token_kind}"


def _list_syncs(api: CensusApi) -> tuple[list[dict[str, Any]], bool]:
    """The syncs of the first pages of the list, and whether that was every page."""
    pages = api.sync_pages()
    syncs: list[dict[str, Any]] = []
    for _ in range(MAX_LIST_PAGES):
        page = next(pages, None)
        if page is None:  # the last page said next_page: null; no request was made for this
            return syncs, True
        syncs.extend(page)
    return syncs, False


def _read_runs(api: CensusApi, sync_id: str) -> tuple[list[dict[str, Any]], int]:
    pages = api.run_pages(sync_id)
    first = next(pages, None)
    if first is None:
        return [], 0
    runs = list(first.runs)
    if first.has_next and len(runs) >= 2:
        second = next(pages, None)
        if second is not None:
            return runs + list(second.runs), 2
    return runs, 1


def _inspect_runs(
    sync_id: str, runs: list[dict[str, Any]], pages: int, codec: IdCodec, id_type: str
) -> Check:
    where = f"sync {sync_id}: {len(runs)} runs on {pages} page{'s' if pages > 1 else ''}"
    order = OrderCheck(descending=True, what=NEWEST_FIRST)
    try:
        for run in runs:
            order.see(created_at(run), run.get("id"))
    except CensusResponseError as error:
        return fail("runs", f"sync {sync_id}: {error}", _ORDER_FIX)
    if order.broken:
        return fail(
            "runs",
            f"{where}: {order.broken}",
            "the API ignores order=desc: a load still reads every run, but re-reads each "
            "sync's whole history every time (cursors kept); report it to Census",
        )
    try:
        for run in runs:
            codec(run.get("id"))
            codec(run.get("sync_id", sync_id))
    except CensusResponseError as error:
        return fail("runs", f"sync {sync_id}: {error}", _NEW_DATASET_FIX, ExitCode.BAD_INPUT)
    ids = f"ids {_id_kind([run.get('id') for run in runs])}, stored as {id_type}"
    missing = [name for name in RUN_FIELDS if all(name not in run for run in runs)]
    if missing:
        return warn(
            "runs",
            f"{where}, {NEWEST_FIRST}, {ids}; documented fields missing: {', '.join(missing)}",
            "nothing to do: missing fields load as NULL; report it if it persists",
        )
    return ok("runs", f"{where}, {NEWEST_FIRST}, {ids}, documented fields present")


_NEW_DATASET_FIX = "load this API version into a new dataset (--dataset, --pipeline-name)"


def _id_kind(values: list[Any]) -> str:
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return "integers"
    if all(isinstance(value, str) and value.isascii() and value.isdigit() for value in values):
        return "numeric strings"
    sample = next((value for value in values if not isinstance(value, int)), None)
    return f"strings such as {sample!r}"


def _candidates(
    syncs: list[dict[str, Any]], selected: tuple[str, ...] | None, cursors: set[str]
) -> list[dict[str, Any]]:
    """Syncs to read runs of: the selected ones, else those with cursors first (continuity)."""
    if selected:
        return [sync for sync in syncs if str(sync.get("id")) in selected]
    return sorted(syncs, key=lambda sync: str(sync.get("id")) not in cursors)


def _scope_row(syncs: list[dict[str, Any]], version: ApiVersion, wanted: tuple[str, ...]) -> Check:
    """Which groups (workspaces) the token sees on v2, and whether group_id narrows it."""
    if version.name == "v1":
        return note("scope", "API v1: the workspace token sees its own workspace only")
    groups: dict[str, int] = {}
    for sync in syncs:
        key = str(sync.get("group_id")) if sync.get("group_id") is not None else "(none)"
        groups[key] = groups.get(key, 0) + 1
    shown = ", ".join(f"{group} ({count} syncs)" for group, count in groups.items()) or "none"
    if len(wanted) == 1 and any(group != wanted[0] for group in groups):
        return fail(
            "scope",
            f"group_id {wanted[0]!r} was sent, but the sync list holds other groups: {shown}",
            "the API may ignore group_id here; report it, and do not load until it is fixed",
        )
    if wanted:
        unseen = [group for group in wanted if group not in groups]
        if unseen:
            return fail(
                "scope",
                f"the token sees no syncs of group(s) {', '.join(unseen)}; it sees: {shown}",
                "fix --group-id (sources.census.group_id): a group id of a workspace this "
                "personal access token can read",
                ExitCode.BAD_INPUT,
            )
        return ok("scope", f"group(s) {', '.join(wanted)}: {shown}")
    if "(none)" in groups:
        return warn(
            "scope",
            "API v2 syncs carry no group_id: cannot tell which groups the token sees",
            "set --group-id to load one group",
        )
    return ok(
        "scope",
        f"the token sees {len(groups)} group(s): {shown}; a run loads all of them "
        "(--group-id narrows it)",
    )


def _dataset_history(schema: Schema | None) -> str | None:
    """Which API versions loaded the dataset, as its schema shows (None: nothing loaded)."""
    if schema is None or "sync_runs" not in schema.tables:
        return None
    first = "v1" if dataset_id_type(schema, VERSIONS["v1"]) == "bigint" else "v2"
    has_groups = "group_id" in schema.tables.get("syncs", {}).get("columns", {})
    if first == "v1" and has_groups:
        return "API v1, then v2"
    return f"API {first}"


def _other_root(
    root: str, values: Mapping[str, Any], version: ApiVersion, other: ApiVersion
) -> str | None:
    """The other API version's root on the same host (None when the base_url names none)."""
    if values.get("base_url"):
        suffix = f"/api/{version.name}"
        return root.removesuffix(suffix) + f"/api/{other.name}" if root.endswith(suffix) else None
    try:
        return resolve_base_url(values.get("region") or "us", None, other)
    except CensusConfigError:
        return None


def _region_of(root: str, values: Mapping[str, Any], version: ApiVersion) -> str | None:
    """The region whose root `root` is (the region setting; a base_url only when it is one of
    the region roots), None for any other base_url (a proxy)."""
    if not values.get("base_url"):
        region = str(values.get("region") or "us").strip().lower()
        return region if region in version.roots else None
    return next((name for name, url in version.roots.items() if url.rstrip("/") == root), None)


def _other_region(region: str, version: ApiVersion) -> tuple[str, str]:
    """The other region and its root, resolved as a load resolves `--region`."""
    other = next(name for name in version.roots if name != region)
    return other, resolve_base_url(other, None, version)


def _renumbered(
    state: FoundState,
    probe: Probe,
    schema: Schema | None,
    version: ApiVersion,
    values: Mapping[str, Any],
) -> str | None:
    """The line a load stops with when this API version renumbered the syncs (ids.py)."""
    if probe.listed_ids is None or not probe.listing_complete:
        return None  # not every sync was listed: compare_cursors says what is known
    listed = probe.listed_ids
    selected = normalize_sync_ids(values.get("sync_ids"), numeric=version.numeric_ids)
    if selected:
        listed = listed & set(selected)
    id_type = dataset_id_type(schema or Schema("census"), version)
    cursors = resource_state(state.state, "census", "sync_runs")
    written_by = cursors_api_version(cursors, id_type)
    return renumbered_syncs(cursor_sync_ids(state, "census"), listed, written_by, version.name)
