"""HTTP access to the Files.com API through dlt's RESTClient, with one-line errors."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from dlt.common import logger
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import HTTPError, RequestException, Response

from files_com_source.errors import (
    FilesComAuthError,
    FilesComNotFoundError,
    FilesComRegionError,
    FilesComResponseError,
    FilesComUnreachableError,
)
from files_com_source.paginator import FilesComCursorPaginator
from files_com_source.region import named_host, relocation
from files_com_source.settings import (
    API_KEY_HEADER,
    CONFIG_SECTION,
    CURSOR_PARAM,
    REGION_MISMATCH_TYPE,
    RUNS_PATH,
    SECRET_CONFIG_KEY,
    SECRET_ENV_VAR,
    WORKSPACE_HEADER,
)
from syncruns_common.contract import PageGuard
from syncruns_common.http_errors import HttpErrors
from syncruns_common.http_session import retrying_session
from syncruns_common.payload import body_is_not_json, json_payload, response_payload
from syncruns_common.progress import request_answered


class FilesComRESTClient(RESTClient):
    """RESTClient for Files.com's bare JSON bodies: an array for lists, an object for one run."""

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        request_answered()
        payload = json_payload(response, FilesComResponseError)
        if isinstance(payload, list):
            return payload
        if isinstance(payload, dict):
            return [payload]
        raise FilesComResponseError("answered JSON that is neither an array nor an object")


class FilesComApi:
    """The sync-run endpoints, with the API key header and dlt's retry settings.

    A region lockout (403 naming the site's host) moves the rest of the load to that host,
    once, where `region.relocation` allows it.
    """

    def __init__(
        self, base_url: str, api_key: str, per_page: int, workspace_id: int | None = None
    ) -> None:
        self.base_url = base_url
        self.per_page = per_page
        self._api_key = api_key
        self._headers = {} if workspace_id is None else {WORKSPACE_HEADER: str(workspace_id)}
        self._relocated_from: str | None = None
        self._runtime = resolve_configuration(RuntimeConfiguration())
        self._errors = HttpErrors(
            api="Files.com",
            reach="Files.com",
            reach_hint=f"check {CONFIG_SECTION}.subdomain / base_url and the network",
            base_url=base_url,
            attempts=self._runtime.request_max_attempts,
            response_error=FilesComResponseError,
            not_found_error=FilesComNotFoundError,
            unreachable_error=FilesComUnreachableError,
            auth_error=_auth_error,
            status_detail=_api_message,
            response_prefix="Files.com ",
            keep_cause=False,
            network_errors=(RequestException,),
        )
        self._client = self._rest_client(base_url)

    def _rest_client(self, base_url: str) -> FilesComRESTClient:
        return FilesComRESTClient(
            base_url,
            headers=self._headers,
            auth=APIKeyAuth(name=API_KEY_HEADER, api_key=self._api_key, location="header"),
            session=retrying_session(self._runtime, body_is_not_json),
            data_selector="$",  # bodies are bare; set so dlt does not sniff (and re-parse) them
            config=self._runtime,
        )

    def run_pages(self, params: Mapping[str, str]) -> Iterator[list[dict[str, Any]]]:
        """Runs matching `params` (filters, sort), one list per page, following the cursor.

        A page of runs all read before on this listing, or a cursor followed before, stops it
        with an error naming the page.
        """
        query: dict[str, Any] = {**params, "per_page": self.per_page}
        paginator = FilesComCursorPaginator()
        guard = PageGuard(RUNS_PATH, FilesComResponseError)
        pages = self._client.paginate(RUNS_PATH, params=query, paginator=paginator)
        number = 1
        while True:
            with self._translated(RUNS_PATH, number):
                try:
                    page = next(pages, None)
                except HTTPError as exc:
                    if not self._relocated(exc, f"GET {RUNS_PATH} page {number}"):
                        raise
                    cursor = paginator.cursor  # the request that was refused, sent again there
                    resume = query if cursor is None else {**query, CURSOR_PARAM: cursor}
                    pages = self._client.paginate(RUNS_PATH, params=resume, paginator=paginator)
                    continue
                if page is None:
                    return
                if not isinstance(response_payload(page.response), list):
                    raise FilesComResponseError("answered a JSON object, not the documented array")
                runs = list(page)
                if not all(isinstance(run, dict) and "id" in run for run in runs):
                    raise FilesComResponseError("answered an array with items that are not runs")
            guard.check(f"page {number}", (str(run["id"]) for run in runs))
            yield runs
            number += 1

    def fetch_run(self, run_id: int | str) -> dict[str, Any] | None:
        """One run by id (`GET /sync_runs/{id}`), or None when the API answers 404."""
        path = f"{RUNS_PATH}/{run_id}"
        try:
            with self._errors.translated(path):
                while True:
                    try:
                        pages = self._client.paginate(path, paginator=SinglePagePaginator())
                        page = next(pages, None)
                    except HTTPError as exc:
                        if self._relocated(exc, f"GET {path}"):
                            continue
                        raise
                    break
                if page is None or not isinstance(response_payload(page.response), dict):
                    raise FilesComResponseError("answered something other than one run object")
        except FilesComNotFoundError:
            return None
        return dict(page[0])

    def _relocated(self, error: HTTPError, where: str) -> bool:
        """Send the rest of the load to the host a region lockout names (False: not one)."""
        named = named_host(error.response)
        if named is None:
            return False
        here = urlsplit(self.base_url).netloc
        shown = repr(named[:200])
        if self._relocated_from is not None:
            raise FilesComRegionError(
                f"Files.com answered 403 {REGION_MISMATCH_TYPE} on {where} again, from {here} "
                f"(followed from {self._relocated_from}), naming {shown}: set "
                f"{CONFIG_SECTION}.base_url to your site's own host"
            )
        move = relocation(self.base_url, named)
        if move.base_url is None:
            raise FilesComRegionError(
                f"Files.com answered 403 {REGION_MISMATCH_TYPE} on {where}: the site is locked "
                f"to host {shown}, not followed because {move.refusal}: set "
                f"{CONFIG_SECTION}.base_url to https://<your site's host>/api/rest/v1"
            )
        logger.warning(
            f"Files.com: the site is locked to {urlsplit(move.base_url).netloc} (403 "
            f"{REGION_MISMATCH_TYPE} from {here} on {where}); this load continues there. Set "
            f"{CONFIG_SECTION}.base_url = '{move.base_url}' to save the extra request"
        )
        self._relocated_from = here
        self.base_url = move.base_url
        self._errors = replace(self._errors, base_url=move.base_url)
        self._client = self._rest_client(move.base_url)
        return True

    @contextmanager
    def _translated(self, path: str, page: int) -> Iterator[None]:
        """As HttpErrors.translated; a 404 on the list means a wrong site, not a missing run."""
        try:
            with self._errors.translated(path, page):
                yield
        except FilesComNotFoundError:
            raise FilesComResponseError(
                f"Files.com answered 404 on GET {path} page {page}: check {CONFIG_SECTION}"
                ".subdomain (or base_url, which must end in /api/rest/v1)"
            ) from None


def _auth_error(status: int, where: str, response: Response | None) -> FilesComAuthError:
    verb = "rejected the API key" if status == 401 else "refused access for the API key"
    return FilesComAuthError(
        f"Files.com {verb} ({status}) on {where}: set a valid key with read access "
        f"to sync runs in {SECRET_CONFIG_KEY} (or env {SECRET_ENV_VAR})"
    )


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
