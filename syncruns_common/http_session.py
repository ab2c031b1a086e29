"""The `requests` session under dlt's RESTClient: dlt's retries, and a shared rate limit."""

import os
from typing import Any, Protocol

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


class RateLimitedAdapter(HTTPAdapter):
    """HTTPAdapter that waits for the shared limiter before every send, retries included."""

    def __init__(self, limiter: Limiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        self.limiter.acquire()
        return super().send(request, *args, **kwargs)


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
