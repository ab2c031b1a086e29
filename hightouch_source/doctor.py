"""`diagnose()`: prove the Hightouch settings, API key, API and destination in a few requests.

Nothing is loaded and no state changes. The API is read through this source's own client
(`HightouchApi`), so its envelope, paging and error checks are the ones a load applies. At most
6 requests: the sync list (1-2 pages) and up to 3 syncs' runs (the first page each, plus a
second page of one), syncs that have run (`lastRunAt`) first.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from dlt.common.schema import Schema

from hightouch_source import hightouch_source
from hightouch_source.client import HightouchApi
from hightouch_source.config import normalize_sync_ids, resolve_base_url, validate_api_key
from hightouch_source.cursor import run_key, run_start
from hightouch_source.errors import (
    HightouchAuthError,
    HightouchConfigError,
    HightouchNotFoundError,
    HightouchSourceError,
    HightouchUnreachableError,
)
from hightouch_source.ratelimit import SlidingWindowLimiter
from hightouch_source.reader import ASCENDING_ID
from hightouch_source.settings import SECRET_CONFIG_KEY, SECRET_ENV_VAR
from pipelines.doctor_http import rate_limit_row, reached, resolve_host, unreachable
from pipelines.doctor_report import Check, DoctorReport, fail, note, ok, skip, skipped, warn
from pipelines.doctor_run import Probe, ProbeBase, Target, compare_cursors, diagnose_source
from pipelines.doctor_state import FoundState, cursor_sync_ids
from pipelines.exit_codes import ExitCode
from syncruns_common.contract import OrderCheck

__all__ = ["diagnose"]

MAX_LIST_PAGES = 2
MAX_RUN_SYNCS = 3
RUN_FIELDS = (
    "id",
    "status",
    "createdAt",
    "startedAt",
    "finishedAt",
    "completionRatio",
    "querySize",
    "plannedRows",
    "successfulRows",
    "failedRows",
)
PUBLISHED = "Hightouch allows 200 requests per 10 s; the source stays under rate_limit"
HOST_HINT = "sources.hightouch.base_url (--base-url)"


def diagnose(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    sync_ids: Sequence[int | str] | None = None,
    destination: Any = "duckdb",
    dataset_name: str = "hightouch",
    pipeline_name: str = "hightouch_syncruns",
    pipelines_dir: str | None = None,
    flags: Mapping[str, str] | None = None,
) -> DoctorReport:
    """Check everything a Hightouch load needs and return the report (`.ready`, `.exit_code`).

    Settings not given here are resolved from dlt config (`[sources.hightouch]`, env
    `SOURCES__HIGHTOUCH__*`) as `hightouch_source()` resolves them. `destination` is a dlt
    destination factory or name (`"duckdb"`: the file `<pipeline_name>.duckdb` here);
    `flags` is set by the CLI.
    """
    given = {"api_key": api_key, "base_url": base_url, "sync_ids": sync_ids}
    explicit = {name: value for name, value in given.items() if value is not None}
    target = Target(destination, dataset_name, pipeline_name, pipelines_dir, flags)
    return diagnose_source(HightouchProbe(), explicit, flags or {}, target)


class HightouchProbe(ProbeBase):
    """The Hightouch parts of `diagnose()`."""

    name = "hightouch"
    factory = hightouch_source
    secrets: Mapping[str, str] = {"api_key": "workspace API key"}
    shown: tuple[str, ...] = ("base_url",)
    config_error: type[Exception] = HightouchConfigError

    def probe(
        self, values: Mapping[str, Any], schema: Schema | None, state: FoundState | None
    ) -> Probe:
        """Host, API key, sync list, one sync's runs, rate-limit headers."""
        root = resolve_base_url(values["base_url"])
        selected = normalize_sync_ids(values["sync_ids"])
        api = HightouchApi(
            root,
            validate_api_key(values["api_key"]),
            SlidingWindowLimiter(None, 1.0),
            int(values["page_size"]),
        )
        self.recorder.attach(api._client.session)  # the client's own session: retries seen too
        dns = resolve_host(root, HOST_HINT)
        if dns is not None:
            return Probe([dns, *skipped("the host does not resolve", "token", "listing")])
        syncs: list[dict[str, Any]] = []
        complete = False
        try:
            pages = api.sync_pages()
            for _ in range(MAX_LIST_PAGES):
                page = next(pages, None)
                if page is None:
                    complete = True
                    break
                syncs.extend(page)
        except HightouchSourceError as error:
            return Probe(self._listing_failed(error, root))
        bad = [sync.get("id") for sync in syncs if not str(sync.get("id", "")).strip().isdigit()]
        rows = [reached(root, self.recorder), ok("token", "accepted (workspace API key)")]
        if bad:
            rows.append(
                fail(
                    "listing",
                    f"GET /api/v1/syncs listed syncs whose id is not numeric: {bad[:3]!r}",
                    "report it to Hightouch; the source stops with the same error",
                )
            )
            return Probe([*rows, skip("runs", "the sync ids are not numeric")])
        pages_read = "every page read" if complete else f"the first {MAX_LIST_PAGES} pages read"
        listed = f"GET /api/v1/syncs: {len(syncs)} syncs ({pages_read}), documented data list"
        rows.append(ok("listing", listed))
        probe = Probe(rows, {_sync_id(sync) for sync in syncs}, complete)
        probe.checks.append(
            self._runs_row(api, syncs, selected, cursor_sync_ids(state, "hightouch"))
        )
        probe.checks.append(rate_limit_row(self.recorder, PUBLISHED))
        return probe

    def continuity(
        self, state: FoundState, probe: Probe, schema: Schema | None, values: Mapping[str, Any]
    ) -> Check:
        """Whether the syncs with cursors are the ones the key lists now."""
        return compare_cursors(
            cursor_sync_ids(state, "hightouch"),
            probe,
            "this API key",
            state.where,
            "the key may belong to another workspace: use that workspace's key, or load this "
            "one into a new dataset (--dataset, --pipeline-name)",
        )

    def _listing_failed(self, error: HightouchSourceError, root: str) -> list[Check]:
        if not self.recorder.count:
            return [unreachable(root, error, HOST_HINT), *skipped("no answer", "token", "listing")]
        host = reached(root, self.recorder)
        if isinstance(error, HightouchAuthError):
            return [
                host,
                fail(
                    "token",
                    str(error),
                    f"set a valid workspace API key in {SECRET_CONFIG_KEY} (env {SECRET_ENV_VAR})",
                    ExitCode.AUTH,
                ),
                *skipped("the API key was not accepted", "listing", "runs"),
            ]
        code = ExitCode.UNREACHABLE if isinstance(error, HightouchUnreachableError) else 1
        fix = (
            "base_url should be the API root, e.g. https://api.hightouch.com"
            if isinstance(error, HightouchNotFoundError)
            else "retry later; if it persists, report the answer to Hightouch"
        )
        return [
            host,
            skip("token", "the sync list did not answer 200"),
            fail("listing", str(error), fix, ExitCode(code)),
            skip("runs", "no syncs"),
        ]

    def _runs_row(
        self,
        api: HightouchApi,
        syncs: list[dict[str, Any]],
        selected: tuple[str, ...] | None,
        cursors: set[str],
    ) -> Check:
        """One sync's runs: by ascending id, numeric ids, the documented fields."""
        tried: list[str] = []
        for sync in _candidates(syncs, selected, cursors)[:MAX_RUN_SYNCS]:
            sync_id = _sync_id(sync)
            tried.append(sync_id)
            try:
                runs, pages = _read_runs(api, sync_id)
            except HightouchSourceError as error:
                return fail("runs", f"sync {sync_id}: {error}", _REPORT_FIX)
            if len(runs) >= 2:
                return _inspect_runs(sync_id, runs, pages)
        if not tried:
            return note("runs", "no syncs listed: nothing to read")
        return warn(
            "runs",
            f"syncs {', '.join(tried)} have fewer than 2 runs: order and fields not checked",
            "run doctor again once a sync has run, or pick one with --sync-id",
        )


_REPORT_FIX = "report the answer to Hightouch; the source stops this sync with the same error"


def _read_runs(api: HightouchApi, sync_id: str) -> tuple[list[dict[str, Any]], int]:
    pages = api.run_pages(sync_id)
    first = next(pages, None)
    if first is None:
        return [], 0
    if len(first) < api.page_size:
        return first, 1
    second = next(pages, None)
    return (first + second, 2) if second is not None else (first, 1)


def _inspect_runs(sync_id: str, runs: list[dict[str, Any]], pages: int) -> Check:
    where = f"sync {sync_id}: {len(runs)} runs on {pages} page{'s' if pages > 1 else ''}"
    order = OrderCheck(descending=False, what=ASCENDING_ID)
    try:
        for run in runs:
            run_id = run_key(run, sync_id)
            order.see(int(run_id), run_id)
            run_start(run, sync_id)
    except HightouchSourceError as error:
        return fail("runs", f"sync {sync_id}: {error}", _REPORT_FIX)
    if order.broken:
        return fail(
            "runs",
            f"{where}: {order.broken}",
            "the API ignores orderBy=id: a load still reads every run, but reads each sync's "
            "history in full (cursors kept); report it to Hightouch",
        )
    kinds = "strings" if any(isinstance(run.get("id"), str) for run in runs) else "integers"
    facts = f"{where}, {ASCENDING_ID}, ids {kinds} (stored as bigint)"
    missing = [name for name in RUN_FIELDS if all(name not in run for run in runs)]
    if missing:
        return warn(
            "runs",
            f"{facts}; documented fields missing: {', '.join(missing)}",
            "nothing to do: missing fields load as NULL; report it if it persists",
        )
    return ok("runs", f"{facts}, documented fields present")


def _candidates(
    syncs: list[dict[str, Any]], selected: tuple[str, ...] | None, cursors: set[str]
) -> list[dict[str, Any]]:
    """The selected syncs, else syncs with cursors first, then syncs that have run."""
    if selected:
        return [sync for sync in syncs if _sync_id(sync) in selected]
    return sorted(
        syncs, key=lambda sync: (_sync_id(sync) not in cursors, not sync.get("lastRunAt"))
    )


def _sync_id(sync: Mapping[str, Any]) -> str:
    """A listed sync's id as the source keys its cursor (digits, no leading zeros)."""
    return str(int(str(sync["id"]).strip()))
