"""`diagnose()`: prove the Files.com settings, API key, API and destination in a few requests.

Nothing is loaded and no state changes. The API is read through this source's own client
(`FilesComApi`), so its envelope, cursor paging, region-lockout and error checks are the ones a
load applies. Files.com lists every sync's runs in one listing: the doctor reads its first two
pages (2 requests, 100 runs each) and checks them in created_at order.
"""

from collections.abc import Mapping
from typing import Any

from dlt.common.schema import Schema

from files_com_source import CURSOR_STATE_KEY, files_com_source
from files_com_source.client import FilesComApi
from files_com_source.config import resolve_base_url, validate_api_key
from files_com_source.cursor import SORT_ASCENDING, RunCursor
from files_com_source.errors import (
    FilesComAuthError,
    FilesComConfigError,
    FilesComRegionError,
    FilesComSourceError,
    FilesComUnreachableError,
)
from files_com_source.reader import ASCENDING, created_at, run_id_of
from files_com_source.settings import SECRET_CONFIG_KEY, SECRET_ENV_VAR
from files_com_source.tables import RUN_COLUMNS
from pipelines.doctor_http import rate_limit_row, reached, resolve_host, unreachable
from pipelines.doctor_report import Check, DoctorReport, fail, note, ok, skip, skipped, warn
from pipelines.doctor_run import Probe, ProbeBase, Target, diagnose_source
from pipelines.doctor_state import FoundState, resource_state
from pipelines.exit_codes import ExitCode
from syncruns_common.contract import OrderCheck
from syncruns_common.timestamps import format_timestamp

__all__ = ["diagnose"]

PAGES = 2
PER_PAGE = 100
PUBLISHED = "a load makes one paged listing request, plus one per open run it re-reads"
HOST_HINT = "sources.files_com.subdomain / base_url (--base-url)"


def diagnose(
    *,
    api_key: str | None = None,
    subdomain: str | None = None,
    base_url: str | None = None,
    workspace_id: int | None = None,
    destination: Any = "duckdb",
    dataset_name: str = "files_com",
    pipeline_name: str = "files_com_syncruns",
    pipelines_dir: str | None = None,
    flags: Mapping[str, str] | None = None,
) -> DoctorReport:
    """Check everything a Files.com load needs and return the report (`.ready`, `.exit_code`).

    Settings not given here are resolved from dlt config (`[sources.files_com]`, env
    `SOURCES__FILES_COM__*`) as `files_com_source()` resolves them. `destination` is a dlt
    destination factory or name (`"duckdb"`: the file `<pipeline_name>.duckdb` here);
    `flags` is set by the CLI.
    """
    given = {
        "api_key": api_key,
        "subdomain": subdomain,
        "base_url": base_url,
        "workspace_id": workspace_id,
    }
    explicit = {name: value for name, value in given.items() if value is not None}
    target = Target(destination, dataset_name, pipeline_name, pipelines_dir, flags)
    return diagnose_source(FilesComProbe(), explicit, flags or {}, target)


class FilesComProbe(ProbeBase):
    """The Files.com parts of `diagnose()`."""

    name = "files_com"
    factory = files_com_source
    secrets: Mapping[str, str] = {"api_key": "API key"}
    shown: tuple[str, ...] = ("subdomain", "base_url", "workspace_id")
    config_error: type[Exception] = FilesComConfigError

    def probe(
        self, values: Mapping[str, Any], schema: Schema | None, state: FoundState | None
    ) -> Probe:
        """Host, API key, the runs listing (array, cursor paging), order, ids, fields."""
        root = resolve_base_url(values["subdomain"], values["base_url"])
        per_page = min(int(values["per_page"]), PER_PAGE)
        workspace = values.get("workspace_id")
        api = FilesComApi(root, validate_api_key(values["api_key"]), per_page, workspace)
        self.recorder.attach(api._client.session)  # the client's own session: retries seen too
        dns = resolve_host(root, HOST_HINT)
        if dns is not None:
            return Probe([dns, *skipped("the host does not resolve", "token", "listing")])
        runs: list[dict[str, Any]] = []
        pages_read = 0
        try:
            pages = api.run_pages(SORT_ASCENDING)
            for _ in range(PAGES):
                page = next(pages, None)
                if page is None:
                    break
                runs.extend(page)
                pages_read += 1
        except FilesComSourceError as error:
            return Probe(self._listing_failed(error, root))
        paging = (
            "cursor header followed to page 2"
            if pages_read == PAGES
            else "one page (no next-page cursor)"
        )
        rows = [
            reached(root, self.recorder),
            ok("token", "accepted (API key with read access to sync runs)"),
            ok("listing", f"GET /sync_runs: bare JSON array, {per_page} runs a page, {paging}"),
            _scope_row(workspace),
            _inspect_runs(runs),
            rate_limit_row(self.recorder, PUBLISHED),
        ]
        return Probe(rows)

    def continuity(
        self, state: FoundState, probe: Probe, schema: Schema | None, values: Mapping[str, Any]
    ) -> Check:
        """Where the next load continues: the cursor's newest created_at and open runs."""
        raw = resource_state(state.state, "files_com", "sync_runs").get(CURSOR_STATE_KEY) or {}
        cursor = RunCursor.from_state(raw)
        if cursor.high_water is None:
            return ok("state", f"{state.where}: no cursor yet; the first run loads every run")
        return ok(
            "state",
            f"{state.where}: the next run lists runs created after "
            f"{format_timestamp(cursor.high_water)} (minus the overlap) and re-reads "
            f"{len(cursor.open_runs)} open runs",
        )

    def _listing_failed(self, error: FilesComSourceError, root: str) -> list[Check]:
        if isinstance(error, FilesComRegionError):
            return [
                fail("host", str(error), "set base_url to your site's host", ExitCode.BAD_INPUT),
                *skipped("the site is locked to another host", "token", "listing"),
            ]
        if not self.recorder.count:
            return [unreachable(root, error, HOST_HINT), *skipped("no answer", "token", "listing")]
        host = reached(root, self.recorder)
        if isinstance(error, FilesComAuthError):
            return [
                host,
                fail(
                    "token",
                    str(error),
                    f"set a valid API key with read access to sync runs in {SECRET_CONFIG_KEY} "
                    f"(env {SECRET_ENV_VAR})",
                    ExitCode.AUTH,
                ),
                *skipped("the API key was not accepted", "listing", "runs"),
            ]
        code = ExitCode.UNREACHABLE if isinstance(error, FilesComUnreachableError) else 1
        return [
            host,
            skip("token", "the listing did not answer 200"),
            fail("listing", str(error), "check the setting named above", ExitCode(code)),
            skip("runs", "no runs"),
        ]


def _scope_row(workspace_id: int | None) -> Check:
    if workspace_id is None:
        return note("scope", "no workspace_id: every run the API key can see")
    return note("scope", f"workspace_id {workspace_id}: only that Workspace's runs")


def _inspect_runs(runs: list[dict[str, Any]]) -> Check:
    """The runs read: created_at ascending, numeric ids, the documented fields."""
    if len(runs) < 2:
        return warn(
            "runs",
            f"{len(runs)} run(s) listed: order and fields not checked",
            "run doctor again once syncs have run",
        )
    order = OrderCheck(descending=False, what=ASCENDING)
    try:
        for run in runs:
            order.see(created_at(run), run_id_of(run))
    except FilesComSourceError as error:
        return fail("runs", str(error), "report the answer to Files.com")
    syncs = len({run.get("sync_id") for run in runs})
    where = f"{len(runs)} runs of {syncs} sync(s)"
    if order.broken:
        return fail(
            "runs",
            f"{where}: {order.broken}",
            "the API ignores sort_by[created_at]=asc: a load still reads every run, but lists "
            "them all again next time (cursor kept); report it to Files.com",
        )
    missing = [name for name in RUN_COLUMNS if all(name not in run for run in runs)]
    facts = f"{where}, {ASCENDING}, ids integers"
    if missing:
        return warn(
            "runs",
            f"{facts}; documented fields missing: {', '.join(missing)}",
            "nothing to do: missing fields load as NULL; report it if it persists",
        )
    return ok("runs", f"{facts}, documented fields present")
