"""What dlt's retrying session raised after its last attempt, as one source's one-line errors."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from requests import ConnectionError as RequestsConnectionError
from requests import HTTPError, Response, Timeout

AuthMessage = Callable[[int, str, Response | None], Exception]
"""Builds the source's error for a 401/403 from the status, `where` and the response."""


@dataclass(frozen=True)
class HttpErrors:
    """One source's error classes and the words its HTTP error messages differ in.

    Every message names the request as `where`: "GET <path_prefix><path>", plus
    " <position> <n>" on a page of a listing (a page number or an offset).
    """

    api: str  # "<api> kept answering 503 on ...", "<api> answered 400 on ..."
    reach: str  # "Cannot reach <reach> at <host> ..."
    reach_hint: str  # what to check when the API cannot be reached
    base_url: str
    attempts: int  # [runtime] request_max_attempts, for the messages
    response_error: type[Exception]  # not the documented JSON; re-raised naming `where`
    not_found_error: type[Exception]
    unreachable_error: type[Exception]
    auth_error: AuthMessage
    gone_error: type[Exception] | None = None  # 410; without it a 410 is a response error
    status_detail: Callable[[Response | None], str] | None = None  # appended to other statuses
    response_prefix: str = ""
    path_prefix: str = ""
    position: str = "page"
    keep_cause: bool = True  # chain the requests error (404 and 410 never do)
    network_errors: tuple[type[Exception], ...] = (RequestsConnectionError, Timeout)

    @contextmanager
    def translated(self, path: str, page: int | None = None) -> Iterator[None]:
        """Turn what the block raises into this source's errors, each naming the request."""
        where = f"GET {self.path_prefix}{path}" + (f" {self.position} {page}" if page else "")
        try:
            yield
        except self.response_error as exc:
            raise self.response_error(f"{self.response_prefix}{where} {exc}") from exc
        except HTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else 0
            error = self._status_error(status, where, response)
            expected = status == 404 or (status == 410 and self.gone_error is not None)
            raise error from (exc if self.keep_cause and not expected else None)
        except self.network_errors as exc:
            kind = "timed out" if isinstance(exc, Timeout) else "connection failed"
            host = urlsplit(self.base_url).netloc
            raise self.unreachable_error(
                f"Cannot reach {self.reach} at {host} ({kind}) on {where} after {self.attempts} "
                f"attempts: {self.reach_hint}"
            ) from (exc if self.keep_cause else None)

    def _status_error(self, status: int, where: str, response: Response | None) -> Exception:
        if status in (401, 403):
            return self.auth_error(status, where, response)
        if status == 404:
            return self.not_found_error(f"{where} answered 404")
        if status == 410 and self.gone_error is not None:
            return self.gone_error(f"{where} answered 410 (past retention)")
        if status == 429 or status >= 500:
            return self.unreachable_error(
                f"{self.api} kept answering {status} on {where} after {self.attempts} attempts: "
                "retry later or raise [runtime] request_max_attempts"
            )
        detail = f": {self.status_detail(response)}" if self.status_detail else ""
        return self.response_error(f"{self.api} answered {status} on {where}{detail}")
