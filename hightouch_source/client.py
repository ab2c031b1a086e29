"""HTTP access to the Hightouch REST API through dlt's RESTClient, with one-line clear errors."""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import ConnectionError as RequestsConnectionError
from requests import HTTPError, Response, Timeout
from requests.utils import get_environ_proxies

from census_source.payload import body_is_unreadable, response_payload
from census_source.timestamps import format_timestamp
from hightouch_source.cursor import run_key
from hightouch_source.errors import (
    HightouchAuthError,
    HightouchNotFoundError,
    HightouchResponseError,
    HightouchUnreachableError,
)
from hightouch_source.paginator import HasMorePaginator
from hightouch_source.ratelimit import RateLimitedAdapter, SlidingWindowLimiter
from hightouch_source.settings import API_PREFIX, PAGE_SIZE, SECRET_CONFIG_KEY, SECRET_ENV_VAR

Record = dict[str, Any]


class HightouchRESTClient(RESTClient):
    """RESTClient that reads the documented `{"data": [...], "hasMore": ...}` envelope."""

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        try:
            payload = response_payload(response)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise HightouchResponseError(
                f"answered a body that is not JSON ({kind}, {len(response.content)} bytes) "
                "after every retry"
            ) from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise HightouchResponseError("answered JSON without the documented 'data' list")
        return data


class HightouchApi:
    """The read endpoints this source needs, with dlt's retries, bearer auth and a rate limit.

    Each thread gets its own session (requests sessions are not thread-safe); all share one
    limiter, applied to every attempt including retries.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        limiter: SlidingWindowLimiter,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.base_url = base_url
        self.page_size = page_size
        self._auth = BearerTokenAuth(api_key)
        self._limiter = limiter
        self._runtime = resolve_configuration(RuntimeConfiguration())
        self._local = threading.local()

    @property
    def _client(self) -> HightouchRESTClient:
        client: HightouchRESTClient | None = getattr(self._local, "client", None)
        if client is None:
            retrying = Client(raise_for_status=False, retry_condition=body_is_unreadable)
            retrying.update_from_config(self._runtime)
            session = retrying.session
            # read proxy/CA settings from the environment once, not on every request
            session.proxies.update(get_environ_proxies(self.base_url))
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
                "CURL_CA_BUNDLE", True
            )
            session.trust_env = False
            adapter = RateLimitedAdapter(self._limiter)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            client = self._local.client = HightouchRESTClient(
                self.base_url + API_PREFIX,
                auth=self._auth,
                session=session,
                config=self._runtime,
            )
        return client

    def sync_pages(self) -> Iterator[list[Record]]:
        """Every sync in the workspace, one list per request, by id."""
        yield from self._pages("/syncs", {"orderBy": "id"})

    def run_pages(
        self, sync_id: str, after: datetime | None = None, before: datetime | None = None
    ) -> Iterator[list[Record]]:
        """A sync's runs started after/before the given instants, by id, one list per request."""
        params: dict[str, Any] = {"orderBy": "id"}
        if after is not None:
            params["after"] = format_timestamp(after)
        if before is not None:
            params["before"] = format_timestamp(before)
        yield from self._pages(f"/syncs/{sync_id}/runs", params)

    def fetch_run(self, sync_id: str, run_id: str) -> Record | None:
        """One run of a sync by id (`runId` filter), or None when the API does not list it."""
        path = f"/syncs/{sync_id}/runs"
        with self._translated(path, None):
            pages = self._client.paginate(
                path, params={"runId": run_id}, paginator=SinglePagePaginator()
            )
            items: list[Record] = list(next(pages, []))
        found = [item for item in items if run_key(item, sync_id) == run_id]
        return found[0] if found else None

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Record]]:
        paginator = HasMorePaginator(self.page_size)
        pages = self._client.paginate(path, params=params, paginator=paginator)
        while True:
            with self._translated(path, paginator.offset):
                page = next(pages, None)
            if page is None:
                return
            yield list(page)

    @contextmanager
    def _translated(self, path: str, offset: int | None) -> Iterator[None]:
        where = f"GET {API_PREFIX}{path}" + (f" offset {offset}" if offset else "")
        attempts = self._runtime.request_max_attempts
        try:
            yield
        except HightouchResponseError as exc:
            raise HightouchResponseError(f"{where} {exc}") from exc
        except HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (401, 403):
                verb = "rejected the API key" if status == 401 else "refused access"
                raise HightouchAuthError(
                    f"Hightouch {verb} ({status}) on {where}: set a valid API key in "
                    f"{SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR})"
                ) from exc
            if status == 404:
                raise HightouchNotFoundError(f"{where} answered 404") from None
            if status == 429 or status >= 500:
                raise HightouchUnreachableError(
                    f"Hightouch API kept answering {status} on {where} after {attempts} "
                    "attempts: retry later or raise [runtime] request_max_attempts"
                ) from exc
            raise HightouchResponseError(f"Hightouch API answered {status} on {where}") from exc
        except (RequestsConnectionError, Timeout) as exc:
            kind = "timed out" if isinstance(exc, Timeout) else "connection failed"
            host = urlsplit(self.base_url).netloc
            raise HightouchUnreachableError(
                f"Cannot reach the Hightouch API at {host} ({kind}) on {where} after {attempts} "
                "attempts: check sources.hightouch.base_url and the network"
            ) from exc
