"""HTTP access to the Hightouch REST API through dlt's RESTClient, with one-line clear errors."""

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import Response

from hightouch_source.cursor import run_key
from hightouch_source.errors import (
    HightouchAuthError,
    HightouchNotFoundError,
    HightouchResponseError,
    HightouchUnreachableError,
)
from hightouch_source.paginator import HasMorePaginator
from hightouch_source.ratelimit import SlidingWindowLimiter
from hightouch_source.settings import API_PREFIX, PAGE_SIZE, SECRET_CONFIG_KEY, SECRET_ENV_VAR
from syncruns_common.adaptive import adaptive_limiter
from syncruns_common.contract import PageGuard
from syncruns_common.http_errors import HttpErrors
from syncruns_common.http_session import rate_limited_session
from syncruns_common.payload import json_payload
from syncruns_common.progress import request_answered
from syncruns_common.timestamps import format_timestamp

Record = dict[str, Any]


class HightouchRESTClient(RESTClient):
    """RESTClient that reads the documented `{"data": [...], "hasMore": ...}` envelope."""

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        request_answered()
        payload = json_payload(response, HightouchResponseError)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise HightouchResponseError("answered JSON without the documented 'data' list")
        return data


class HightouchApi:
    """The read endpoints this source needs, with dlt's retries, bearer auth and a rate limit.

    Each thread gets its own session (requests sessions are not thread-safe); all share one
    limiter, applied to every attempt including retries. With `adaptive_ceiling` the requests
    in flight and their rate adapt to the host's answers, up to that many at once.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        limiter: SlidingWindowLimiter,
        page_size: int = PAGE_SIZE,
        adaptive_ceiling: int | None = None,
    ) -> None:
        self.base_url = base_url
        self.page_size = page_size
        self._auth = BearerTokenAuth(api_key)
        self._runtime = resolve_configuration(RuntimeConfiguration())
        self._limiter = adaptive_limiter(limiter, adaptive_ceiling, limiter.rate, self._runtime)
        self._local = threading.local()
        self._errors = HttpErrors(
            api="Hightouch API",
            reach="the Hightouch API",
            reach_hint="check sources.hightouch.base_url and the network",
            base_url=base_url,
            attempts=self._runtime.request_max_attempts,
            response_error=HightouchResponseError,
            not_found_error=HightouchNotFoundError,
            unreachable_error=HightouchUnreachableError,
            auth_error=_auth_error,
            path_prefix=API_PREFIX,
            position="offset",
        )

    @property
    def _client(self) -> HightouchRESTClient:
        client: HightouchRESTClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = HightouchRESTClient(
                self.base_url + API_PREFIX,
                auth=self._auth,
                session=rate_limited_session(self.base_url, self._runtime, self._limiter),
                config=self._runtime,
            )
        return client

    def sync_pages(self) -> Iterator[list[Record]]:
        """Every sync in the workspace, one list per request, by id."""
        yield from self._pages("/syncs", {"orderBy": "id"}, lambda sync: str(sync.get("id")))

    def run_pages(
        self, sync_id: str, after: datetime | None = None, before: datetime | None = None
    ) -> Iterator[list[Record]]:
        """A sync's runs started after/before the given instants, by id, one list per request."""
        params: dict[str, Any] = {"orderBy": "id"}
        if after is not None:
            params["after"] = format_timestamp(after)
        if before is not None:
            params["before"] = format_timestamp(before)
        yield from self._pages(f"/syncs/{sync_id}/runs", params, lambda run: run_key(run, sync_id))

    def fetch_run(self, sync_id: str, run_id: str) -> Record | None:
        """One run of a sync by id (`runId` filter), or None when the API does not list it."""
        path = f"/syncs/{sync_id}/runs"
        with self._errors.translated(path):
            pages = self._client.paginate(
                path, params={"runId": run_id}, paginator=SinglePagePaginator()
            )
            items: list[Record] = list(next(pages, []))
        found = [item for item in items if run_key(item, sync_id) == run_id]
        return found[0] if found else None

    def _pages(
        self, path: str, params: dict[str, Any], key: Callable[[Record], str]
    ) -> Iterator[list[Record]]:
        """One list per request; a page of only items already listed ends it with an error."""
        paginator = HasMorePaginator(self.page_size)
        noun = "syncs" if path == "/syncs" else "runs"
        guard = PageGuard(API_PREFIX + path, HightouchResponseError, items=noun)
        pages = self._client.paginate(path, params=params, paginator=paginator)
        while True:
            offset = paginator.offset  # of the request `next` sends
            with self._errors.translated(path, offset):
                page = next(pages, None)
            if page is None:
                return
            items = list(page)
            guard.check(f"at offset {offset}", [key(item) for item in items])
            yield items


def _auth_error(status: int, where: str, response: Response | None) -> HightouchAuthError:
    verb = "rejected the API key" if status == 401 else "refused access"
    return HightouchAuthError(
        f"Hightouch {verb} ({status}) on {where}: set a valid API key in "
        f"{SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR})"
    )
