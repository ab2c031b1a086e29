"""The `requests` session under dlt's RESTClient: dlt's retries, and a shared rate limit."""

import os
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, runtime_checkable

from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.requests.retry import RetryPredicate
from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from syncruns_common.payload import body_is_unreadable


class Limiter(Protocol):
    """A request rate ceiling shared by every worker thread."""

    def acquire(self) -> None:
        """Block until this thread may send its next request."""


@runtime_checkable
class Feedback(Protocol):
    """A limiter that learns from each attempt's answer (see syncruns_common.adaptive)."""

    def answered(self, status: int, retry_after_s: float | None, seconds: float) -> None:
        """One attempt ended: its status (0: no answer), Retry-After, and how long it took."""


class RateLimitedAdapter(HTTPAdapter):
    """HTTPAdapter that waits for the shared limiter before every send, retries included, and
    tells a learning limiter how each attempt went."""

    def __init__(self, limiter: Limiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter
        self.feedback: Feedback | None = limiter if isinstance(limiter, Feedback) else None

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        self.limiter.acquire()
        if self.feedback is None:
            return super().send(request, *args, **kwargs)
        started = time.monotonic()
        status, retry_after = 0, None
        try:
            response = super().send(request, *args, **kwargs)
            status = response.status_code
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return response
        finally:
            self.feedback.answered(status, retry_after, time.monotonic() - started)


def retry_after_seconds(header: str | None) -> float | None:
    """A Retry-After header's seconds (delta form, or an HTTP date), None if absent or bad."""
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def retrying_session(runtime: RuntimeConfiguration, retry_condition: RetryPredicate) -> Session:
    """dlt's retrying session with the `[runtime]` request_* settings; HTTP errors are raised by
    the RESTClient after the last attempt, and `retry_condition` retries a bad 200 too."""
    retrying = Client(raise_for_status=False, retry_condition=retry_condition)
    retrying.update_from_config(runtime)
    return retrying.session


def rate_limited_session(
    base_url: str,
    runtime: RuntimeConfiguration,
    limiter: Limiter,
    retry_condition: RetryPredicate = body_is_unreadable,
) -> Session:
    """A retrying session for one worker thread, sending every attempt through `limiter`."""
    session = retrying_session(runtime, retry_condition)
    # read proxy/CA settings from the environment once, not on every request (hot path)
    session.proxies.update(get_environ_proxies(base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE", True)
    session.trust_env = False
    adapter = RateLimitedAdapter(limiter)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
