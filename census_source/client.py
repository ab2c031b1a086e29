"""HTTP access to the Census API through dlt's RESTClient, with errors made one-line and clear."""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import HTTPError, Response

from census_source import refusals, v2_facts
from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusGoneError,
    CensusGroupError,
    CensusNotFoundError,
    CensusResponseError,
    CensusUnreachableError,
    CensusV1RetiredError,
)
from census_source.paginator import CensusPagePaginator
from census_source.ratelimit import RateLimiter
from census_source.settings import SECRET_CONFIG_KEY, SECRET_ENV_VAR
from census_source.versions import V1, ApiVersion
from syncruns_common.adaptive import adaptive_limiter
from syncruns_common.contract import PageGuard
from syncruns_common.http_errors import HttpErrors
from syncruns_common.http_session import rate_limited_session
from syncruns_common.payload import body_is_unreadable, json_payload, response_payload
from syncruns_common.progress import request_answered

# The server's own error message is quoted in auth errors (it tells a wrong token kind apart).
_MAX_QUOTED_MESSAGE = 200


@dataclass(frozen=True)
class RunPage:
    """One page of a sync's runs, newest first, with the envelope facts the reader plans with."""

    runs: list[dict[str, Any]]
    number: int
    total_records: int | None
    has_next: bool
    shortfall: str | None = None  # on the last page: fewer runs listed than total_records said


def answered_error_status(response: Response | None, exception: BaseException | None) -> bool:
    """Retry predicate: a 200 that is not a JSON object, or whose body says `"status": "error"`."""
    if body_is_unreadable(response, exception):
        return True
    if response is None or response.status_code != 200:
        return False
    return bool(response_payload(response).get("status") == "error")


class CensusRESTClient(RESTClient):
    """RESTClient that reads the documented `{"status": "success", "data": ...}` envelope."""

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        request_answered()
        payload = json_payload(response, CensusResponseError)
        if isinstance(payload, dict) and payload.get("status") == "error":
            said = _server_message(response, getattr(self.auth, "token", None) or "")
            raise CensusResponseError(f'answered 200 "status": "error"{said} after every retry')
        if not isinstance(payload, dict) or "data" not in payload:
            raise CensusResponseError("answered JSON without the documented 'data' field")
        data = payload["data"]
        if isinstance(data, dict):
            return [data]
        if not isinstance(data, list):
            raise CensusResponseError(
                "answered a 'data' field that is neither a list nor an object"
            )
        return data


class CensusApi:
    """The read endpoints this source needs, with dlt's retries and bearer auth.

    Each thread gets its own session (requests sessions are not thread-safe); all share one
    rate limiter, applied to every attempt including retries. With `adaptive_ceiling` the
    requests in flight and their rate adapt to the host's answers, up to that many at once.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        rate_limit: float | None = None,
        version: ApiVersion = V1,
        groups: Sequence[str] | str | None = None,
        adaptive_ceiling: int | None = None,
    ) -> None:
        self.base_url = base_url
        self.version = version
        self.groups = (groups,) if isinstance(groups, str) else tuple(groups or ()) or None
        self._sync_groups: dict[str, str] = {}  # sync id -> its group, from the sync list
        self._auth = BearerTokenAuth(api_key)
        self._runtime = resolve_configuration(RuntimeConfiguration())
        self._limiter = adaptive_limiter(
            RateLimiter(rate_limit), adaptive_ceiling, rate_limit, self._runtime
        )
        self._local = threading.local()
        self._errors = HttpErrors(
            api="Census API",
            reach="the Census API",
            reach_hint="check sources.census.base_url / region and the network",
            base_url=base_url,
            attempts=self._runtime.request_max_attempts,
            response_error=CensusResponseError,
            not_found_error=CensusNotFoundError,
            unreachable_error=CensusUnreachableError,
            auth_error=self._auth_error,
            gone_error=CensusGoneError,
        )

    @property
    def _client(self) -> "CensusRESTClient":
        client: CensusRESTClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = CensusRESTClient(
                self.base_url,
                auth=self._auth,
                session=rate_limited_session(
                    self.base_url, self._runtime, self._limiter, answered_error_status
                ),
                data_selector="data",
                config=self._runtime,
            )
        return client

    def sync_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Every sync in the workspace (v2: in each group set, else every group), one list per
        page; each v2 sync names its group (`group_id`)."""
        for group in self.groups or (None,):
            path = self.version.path(v2_facts.SYNCS, group_id=group)
            params = self.version.params(v2_facts.SYNCS, group)
            paginator = CensusPagePaginator(order="asc")
            for page in self._pages(path, paginator, params, group=group, endpoint=v2_facts.SYNCS):
                for sync in page.runs:
                    self._remember_group(sync, group)
                yield page.runs

    def run_pages(self, sync_id: str) -> Iterator[RunPage]:
        """A sync's runs, newest first, one RunPage per request."""
        group = self._sync_groups.get(str(sync_id))
        self._local.group = group  # the runs and records this thread reads next are this sync's
        path = self._path(v2_facts.SYNC_RUNS, group, sync_id=sync_id)
        params = self.version.params(v2_facts.SYNC_RUNS, group)
        for page in self._pages(path, CensusPagePaginator(order="desc"), params, group=group):
            if group is not None:
                for run in page.runs:
                    run.setdefault("group_id", group)
            yield page

    def fetch_run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id, or None when the API answers 404."""
        group = self._current_group()
        path = self._path(v2_facts.SYNC_RUN, group, run_id=run_id)
        return self._fetch(path, self.version.params(v2_facts.SYNC_RUN, group), group)

    def record_pages(self, run_id: str, status: str) -> Iterator[list[dict[str, Any]]]:
        """A run's records with one status (rejected, invalid), a list per page.

        Raises CensusGoneError when they are past retention (410), CensusNotFoundError on 404.
        """
        group = self._current_group()
        path = self._path(v2_facts.RECORDS, group, run_id=run_id)
        params = {"status": status, **self.version.params(v2_facts.RECORDS, group)}
        paginator = CensusPagePaginator(order=None, envelope_optional=True)
        for page in self._pages(path, paginator, params, guarded=False, group=group):
            yield page.runs

    def _remember_group(self, sync: dict[str, Any], group: str | None) -> None:
        if self.version.name == V1.name:
            return
        if group is not None and not isinstance(sync.get("group_id"), str):
            sync["group_id"] = group  # the group it was listed under, when v2 leaves it out
        named = sync.get("group_id")
        if isinstance(named, str) and named:
            self._sync_groups[str(sync.get("id"))] = named

    def _current_group(self) -> str | None:
        """The group of the sync this thread reads (each sync is read by one thread, start to
        end), else the only group set."""
        group: str | None = getattr(self._local, "group", None)
        if group is None and self.groups is not None and len(self.groups) == 1:
            return self.groups[0]
        return group

    def _path(self, endpoint: str, group: str | None, **ids: str) -> str:
        if group is None and self.version.path_needs_group(endpoint):
            raise CensusConfigError(
                f"sources.census.v2_paths.{endpoint} holds {{group_id}} but the group of "
                f"{', '.join(f'{key} {value}' for key, value in ids.items())} is unknown: set "
                "sources.census.group_id (or group_ids)"
            )
        return self.version.path(endpoint, group_id=group, **ids)

    @contextmanager
    def _translated(
        self, path: str, number: int | None, group: str | None, endpoint: str | None
    ) -> Iterator[None]:
        """HttpErrors' one-line errors, and first the refusals Census words in its body."""
        with self._errors.translated(path, number):
            try:
                yield
            except HTTPError as exc:
                where = f"GET {path}" + (f" page {number}" if number else "")
                refusal = self._refusal(exc.response, where, group, endpoint)
                if refusal is None:
                    raise
                raise refusal from None

    def _refusal(
        self, response: Response | None, where: str, group: str | None, endpoint: str | None
    ) -> Exception | None:
        status = 0 if response is None else response.status_code
        said = _server_message(response, self._auth.token)
        if self.version.name == V1.name:
            if not refusals.says_v1_retired(response):
                return None
            return CensusV1RetiredError(
                f"Census API v1 is retired: Census answered {status} on {where}{said}; switch "
                "to v2: sources.census.api_version = 'v2' (CLI --api-version v2) with a personal "
                f"access token in {SECRET_CONFIG_KEY} (README 'Before January 15, 2027')"
            )
        if refusals.says_group_needed(response):
            if group is None:
                return CensusGroupError(
                    f"Census API v2 needs a group id for {where} (answered {status}{said}): set "
                    "sources.census.group_id (several: group_ids; CLI --group-id); "
                    f"{v2_facts.GROUP_LOOKUP_HINT}"
                )
            return CensusGroupError(
                f"Census API v2 refused group {group!r} on {where} (answered {status}{said}): "
                "fix sources.census.group_id (or group_ids)"
            )
        if endpoint != v2_facts.SYNCS or status != 404:
            return None
        if group is not None and refusals.names_group(response):
            return CensusGroupError(
                f"Census API v2 does not know group {group!r} (404 on {where}): "
                "fix sources.census.group_id (or group_ids), or remove it to load every group"
            )
        return CensusConfigError(
            f"Census API v2 answered 404 on {where} at {urlsplit(self.base_url).netloc}: the "
            "v2 sync list is not at this path (Census has not published it): set "
            "sources.census.v2_paths.syncs (README 'Census API v2'), or check "
            "sources.census.base_url / region"
        )

    def _fetch(self, path: str, params: dict[str, str], group: str | None) -> dict[str, Any] | None:
        try:
            with self._translated(path, None, group, None):
                pages = self._client.paginate(
                    path, paginator=SinglePagePaginator(), params=params or None
                )
                items: list[Any] = next(pages, [])
        except CensusNotFoundError:
            return None
        if len(items) != 1 or not isinstance(items[0], dict):
            raise CensusResponseError(f"GET {path} answered a 'data' field that is not one object")
        return dict(items[0])

    def _pages(
        self,
        path: str,
        paginator: CensusPagePaginator,
        params: dict[str, str] | None = None,
        guarded: bool = True,
        group: str | None = None,
        endpoint: str | None = None,
    ) -> Iterator[RunPage]:
        """The pages of a listing; `guarded` (items with ids) stops one that makes no progress."""
        pages = self._client.paginate(path, paginator=paginator, params=params or None)
        noun = "syncs" if endpoint == v2_facts.SYNCS else "runs"
        guard = PageGuard(path, CensusResponseError, items=noun)
        while True:
            number = paginator.page
            with self._translated(path, number, group, endpoint):
                page = next(pages, None)
            if page is None:
                return
            items, total, has_next = list(page), paginator.total_records, paginator.has_next_page
            if guarded:
                guard.check(f"page {number}", (str(item.get("id")) for item in items), total)
            yield RunPage(
                runs=items,
                number=number,
                total_records=total,
                has_next=has_next,
                shortfall=None if has_next or not guarded else guard.shortfall(total),
            )

    def _auth_error(self, status: int, where: str, response: Response | None) -> CensusAuthError:
        verb = "rejected the API token" if status == 401 else "refused access"
        version, other = self.version, "v2" if self.version.name == "v1" else "v1"
        said = _server_message(response, self._auth.token)
        host = urlsplit(self.base_url).netloc
        return CensusAuthError(
            f"Census {verb} ({status}) at {host} on {where}{said}: API {version.name} takes a "
            f"{version.token_kind}; set one in {SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR}), "
            f"or set sources.census.api_version = '{other}' for a {version.other_token_kind}"
        )


def _server_message(response: Response | None, token: str) -> str:
    """The API's own error message, quoted (never echoing the token), or nothing."""
    try:
        payload = response_payload(response) if response is not None else None
    except ValueError:
        return ""
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    if token:
        message = message.replace(token, "<token>")
    text = " ".join(message.split())[:_MAX_QUOTED_MESSAGE]
    return f' (Census: "{text}")'
