"""HTTP access to the Files.com API through dlt's RESTClient, with one-line errors."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import HTTPError, RequestException, Response, Timeout

from files_com_source.errors import (
    FilesComAuthError,
    FilesComNotFoundError,
    FilesComResponseError,
    FilesComUnreachableError,
)
from files_com_source.paginator import FilesComCursorPaginator
from files_com_source.settings import (
    API_KEY_HEADER,
    CONFIG_SECTION,
    RUNS_PATH,
    SECRET_CONFIG_KEY,
    SECRET_ENV_VAR,
)

_PAYLOAD_ATTR = "_files_com_payload"
_UNREADABLE = object()


def response_payload(response: Response) -> Any:
    """The parsed JSON body, parsed once per response; ValueError when it is not JSON."""
    cached = getattr(response, _PAYLOAD_ATTR, None)
    if cached is None:
        try:
            cached = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            cached = _UNREADABLE
        setattr(response, _PAYLOAD_ATTR, cached)
    if cached is _UNREADABLE:
        raise ValueError("response body is not JSON")
    return cached


def body_is_unreadable(response: Response | None, exception: BaseException | None) -> bool:
    """Retry predicate: a 200 whose body is not JSON (cut off, an HTML page, empty)."""
    if response is None or response.status_code != 200:
        return False
    try:
        response_payload(response)
    except ValueError:
        return True
    return False


class FilesComRESTClient(RESTClient):
    """RESTClient for Files.com's bare JSON bodies: an array for lists, an object for one run."""

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        try:
            payload = response_payload(response)
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise FilesComResponseError(
                f"answered a body that is not JSON ({kind}, {len(response.content)} bytes) "
                "after every retry"
            ) from None
        if isinstance(payload, list):
            return payload
        if isinstance(payload, dict):
            return [payload]
        raise FilesComResponseError("answered JSON that is neither an array nor an object")


class FilesComApi:
    """The sync-run endpoints, with the API key header and dlt's retry settings."""

    def __init__(self, base_url: str, api_key: str, per_page: int) -> None:
        self.base_url = base_url
        self.per_page = per_page
        self._runtime = resolve_configuration(RuntimeConfiguration())
        retrying = Client(raise_for_status=False, retry_condition=body_is_unreadable)
        retrying.update_from_config(self._runtime)
        self._client = FilesComRESTClient(
            base_url,
            auth=APIKeyAuth(name=API_KEY_HEADER, api_key=api_key, location="header"),
            session=retrying.session,
            data_selector="$",  # bodies are bare; set so dlt does not sniff (and re-parse) them
            config=self._runtime,
        )

    def run_pages(self, params: Mapping[str, str]) -> Iterator[list[dict[str, Any]]]:
        """Runs matching `params` (filters, sort), one list per page, following the cursor."""
        query: dict[str, Any] = {**params, "per_page": self.per_page}
        pages = self._client.paginate(RUNS_PATH, params=query, paginator=FilesComCursorPaginator())
        number = 1
        while True:
            with self._translated(RUNS_PATH, number):
                page = next(pages, None)
                if page is None:
                    return
                if not isinstance(response_payload(page.response), list):
                    raise FilesComResponseError("answered a JSON object, not the documented array")
                runs = list(page)
                if not all(isinstance(run, dict) and "id" in run for run in runs):
                    raise FilesComResponseError("answered an array with items that are not runs")
            yield runs
            number += 1

    def fetch_run(self, run_id: int | str) -> dict[str, Any] | None:
        """One run by id (`GET /sync_runs/{id}`), or None when the API answers 404."""
        path = f"{RUNS_PATH}/{run_id}"
        try:
            with self._translated(path, None):
                page = next(self._client.paginate(path, paginator=SinglePagePaginator()), None)
                if page is None or not isinstance(response_payload(page.response), dict):
                    raise FilesComResponseError("answered something other than one run object")
        except FilesComNotFoundError:
            return None
        return dict(page[0])

    @contextmanager
    def _translated(self, path: str, page: int | None) -> Iterator[None]:
        where = f"GET {path}" + (f" page {page}" if page is not None else "")
        attempts = self._runtime.request_max_attempts
        try:
            yield
        except FilesComResponseError as exc:
            raise FilesComResponseError(f"Files.com {where} {exc}") from exc
        except HTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else 0
            if status in (401, 403):
                verb = "rejected the API key" if status == 401 else "refused access for the API key"
                raise FilesComAuthError(
                    f"Files.com {verb} ({status}) on {where}: set a valid key with read access "
                    f"to sync runs in {SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR})"
                ) from None
            if status == 404 and page is None:
                raise FilesComNotFoundError(f"{where} answered 404") from None
            if status == 404:
                raise FilesComResponseError(
                    f"Files.com answered 404 on {where}: check {CONFIG_SECTION}.subdomain "
                    "(or base_url, which must end in /api/rest/v1)"
                ) from None
            if status == 429 or status >= 500:
                raise FilesComUnreachableError(
                    f"Files.com kept answering {status} on {where} after {attempts} attempts: "
                    "retry later or raise [runtime] request_max_attempts"
                ) from None
            raise FilesComResponseError(
                f"Files.com answered {status} on {where}: {_api_message(response)}"
            ) from None
        except RequestException as exc:
            kind = "timed out" if isinstance(exc, Timeout) else "connection failed"
            host = urlsplit(self.base_url).netloc
            raise FilesComUnreachableError(
                f"Cannot reach Files.com at {host} ({kind}) on {where} after {attempts} attempts: "
                f"check {CONFIG_SECTION}.subdomain / base_url and the network"
            ) from None


def _api_message(response: Response | None) -> str:
    """The `error` text of a Files.com error body, on one line (it never holds the key)."""
    if response is None:
        return "no response"
    try:
        payload = response_payload(response)
    except ValueError:
        return f"a {response.headers.get('Content-Type', 'non-JSON')} body"
    message = payload.get("error") if isinstance(payload, dict) else None
    return " ".join(str(message).split())[:300] if message else "no error message"
