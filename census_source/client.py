"""HTTP access to the Census API through dlt's RESTClient, with errors made one-line and clear."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import Response

from census_source.errors import (
    CensusAuthError,
    CensusConfigError,
    CensusGoneError,
    CensusNotFoundError,
    CensusResponseError,
    CensusUnreachableError,
)
from census_source.paginator import CensusPagePaginator
from census_source.ratelimit import RateLimiter
from census_source.settings import SECRET_CONFIG_KEY, SECRET_ENV_VAR
from census_source.versions import V1, ApiVersion
from syncruns_common.contract import PageGuard
from syncruns_common.http_errors import HttpErrors
from syncruns_common.http_session import rate_limited_session
from syncruns_common.payload import body_is_unreadable, json_payload, response_payload

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
    rate limiter, applied to every attempt including retries.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        rate_limit: float | None = None,
        version: ApiVersion = V1,
        group_id: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.version = version
        self.group_id = group_id
        self._auth = BearerTokenAuth(api_key)
        self._limiter = RateLimiter(rate_limit)
        self._runtime = resolve_configuration(RuntimeConfiguration())
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
        """Every sync in the workspace (v2: in the group, if one is set), one list per page."""
        params = self.version.sync_list_params(self.group_id)
        try:
            for page in self._pages("/syncs", CensusPagePaginator(order="asc"), params):
                yield page.runs
        except CensusNotFoundError:
            if self.group_id is None:
                raise
            raise CensusConfigError(
                f"Census API v2 does not know group {self.group_id!r} (404 on GET /syncs): "
                "fix sources.census.group_id, or remove it to load every group"
            ) from None

    def run_pages(self, sync_id: str) -> Iterator[RunPage]:
        """A sync's runs, newest first, one RunPage per request."""
        path = f"/syncs/{_segment(sync_id)}/sync_runs"
        yield from self._pages(path, CensusPagePaginator(order="desc"))

    def fetch_run(self, run_id: str) -> dict[str, Any] | None:
        """One run by id, or None when the API answers 404."""
        return self._fetch(f"/sync_runs/{_segment(run_id)}")

    def record_pages(self, run_id: str, status: str) -> Iterator[list[dict[str, Any]]]:
        """A run's records with one status (rejected, invalid), a list per page.

        Raises CensusGoneError when they are past retention (410), CensusNotFoundError on 404.
        """
        path = f"/sync_runs/{_segment(run_id)}/records"
        paginator = CensusPagePaginator(order=None, envelope_optional=True)
        for page in self._pages(path, paginator, {"status": status}, guarded=False):
            yield page.runs

    def _fetch(self, path: str) -> dict[str, Any] | None:
        try:
            with self._errors.translated(path):
                pages = self._client.paginate(path, paginator=SinglePagePaginator())
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
    ) -> Iterator[RunPage]:
        """The pages of a listing; `guarded` (items with ids) stops one that makes no progress."""
        pages = self._client.paginate(path, paginator=paginator, params=params)
        guard = PageGuard(path, CensusResponseError)
        while True:
            number = paginator.page
            with self._errors.translated(path, number):
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
        return CensusAuthError(
            f"Census {verb} ({status}) on {where}{said}: API {version.name} takes a "
            f"{version.token_kind}; set one in {SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR}), "
            f"or set sources.census.api_version = '{other}' for a {version.other_token_kind}"
        )


def _segment(resource_id: str) -> str:
    """An id as one URL path segment (v2 ids may be any string)."""
    return quote(str(resource_id), safe="")


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
