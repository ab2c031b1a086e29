"""What the doctor's API requests show: each answer (status, time, rate-limit headers), the host
resolving, the proxy in use, and why a request could not be sent."""

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest, Response, Session
from requests.adapters import BaseAdapter
from requests.exceptions import ConnectTimeout, ProxyError, ReadTimeout, SSLError
from requests.utils import get_environ_proxies

from pipelines.doctor_report import Check, fail, note, ok, warn
from pipelines.exit_codes import ExitCode, causes

# Header names APIs use for rate limits: X-RateLimit-*, RateLimit-* (IETF draft), RateLimit,
# X-Rate-Limit-*, and Retry-After on a throttled answer.
_RATE_LIMIT_HEADER = re.compile(r"^(x-)?rate-?limit(-.*)?$|^retry-after$", re.IGNORECASE)
_MAX_HEADER_VALUE = 80


@dataclass(frozen=True)
class Answer:
    """One HTTP answer the doctor received."""

    method: str
    path: str
    status: int
    seconds: float
    rate_limit_headers: dict[str, str]


@dataclass
class Recorder:
    """Collects every answer of the sessions it is attached to (retries included)."""

    answers: list[Answer] = field(default_factory=list)

    def attach(self, session: Session) -> None:
        """Record the answers of `session` from now on.

        The adapters are wrapped, not the session's response hooks: dlt's RESTClient sends
        its own hooks with each request, and requests lets those replace the session's.
        """
        for prefix, adapter in list(session.adapters.items()):
            session.mount(prefix, _RecordingAdapter(adapter, self._record))

    def _record(self, response: Response, seconds: float) -> None:
        headers = {
            name: value[:_MAX_HEADER_VALUE]
            for name, value in response.headers.items()
            if _RATE_LIMIT_HEADER.match(name)
        }
        request = response.request
        self.answers.append(
            Answer(
                method=str(request.method or "GET"),
                path=urlsplit(request.url or "").path,
                status=response.status_code,
                seconds=seconds,
                rate_limit_headers=headers,
            )
        )

    @property
    def count(self) -> int:
        """Answers received so far."""
        return len(self.answers)


class _RecordingAdapter(BaseAdapter):
    """Sends through `inner` and hands each answer and its time to `record`."""

    def __init__(self, inner: BaseAdapter, record: Callable[[Response, float], None]) -> None:
        super().__init__()
        self.inner = inner
        self.record = record

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        started = time.monotonic()
        response = self.inner.send(request, *args, **kwargs)
        self.record(response, time.monotonic() - started)
        return response

    def close(self) -> None:
        self.inner.close()


def host_of(base_url: str) -> tuple[str, int]:
    """The host and port a base URL points at."""
    parts = urlsplit(base_url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def proxy_for(base_url: str) -> str | None:
    """The proxy requests would use for `base_url` (env HTTPS_PROXY etc.), without credentials."""
    proxies = get_environ_proxies(base_url)
    proxy = proxies.get(urlsplit(base_url).scheme) or proxies.get("all")
    if not proxy:
        return None
    parts = urlsplit(proxy)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def resolve_host(base_url: str, hint: str) -> Check | None:
    """A ✗ `host` row when the API host does not resolve (no proxy to resolve it); else None."""
    if proxy_for(base_url):
        return None  # the proxy resolves the name
    host, port = host_of(base_url)
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        return fail(
            "host",
            f"{host} does not resolve ({error.__class__.__name__}: {error})",
            f"check {hint}, DNS, or set HTTPS_PROXY when the network needs a proxy",
            ExitCode.UNREACHABLE,
        )
    return None


def reached(base_url: str, recorder: Recorder) -> Check:
    """The ✓ `host` row: the first answer proves DNS, TLS and the proxy work."""
    first = recorder.answers[0]
    scheme = urlsplit(base_url).scheme
    host, _ = host_of(base_url)
    proxy = proxy_for(base_url)
    via = f"via proxy {proxy}" if proxy else "no proxy"
    tls = "TLS ok" if scheme == "https" else "plain http on loopback"
    return ok(
        "host", f"{host} answered {first.status} in {first.seconds * 1000:.0f} ms; {tls}, {via}"
    )


def unreachable(base_url: str, error: BaseException, hint: str) -> Check:
    """The ✗ `host` row for a request that got no answer, naming TLS, proxy or timeout."""
    host, port = host_of(base_url)
    found = list(causes(error))
    if any(isinstance(cause, SSLError) for cause in found):
        what = f"TLS with {host} failed"
        fix = (
            "if a proxy inspects TLS, set REQUESTS_CA_BUNDLE to its CA certificate file; "
            f"else check {hint}"
        )
    elif any(isinstance(cause, ProxyError) for cause in found):
        what = f"the proxy {proxy_for(base_url)} refused the connection to {host}"
        fix = "check HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
    elif any(isinstance(cause, ConnectTimeout | ReadTimeout) for cause in found):
        what = f"{host}:{port} did not answer in time"
        fix = f"check {hint} and the network ([runtime] request_timeout sets the wait)"
    else:
        what = f"cannot connect to {host}:{port}"
        fix = f"check {hint}, the network and the firewall"
    return fail("host", f"{what} ({_one_line(error)})", fix, ExitCode.UNREACHABLE)


def rate_limit_row(recorder: Recorder, published: str) -> Check:
    """What rate-limit headers the answers carried; none is a note, a 429 a warning."""
    seen: dict[str, str] = {}
    for answer in recorder.answers:
        seen.update(answer.rate_limit_headers)
    throttled = sum(1 for answer in recorder.answers if answer.status == 429)
    if throttled:
        return warn(
            "rate_limit",
            f"{throttled} answer(s) were 429 (throttled); headers: {_headers(seen) or 'none'}",
            "another client may share this token's limit; lower rate_limit or load later",
        )
    if not seen:
        return note("rate_limit", f"no rate-limit headers seen; {published}")
    return ok("rate_limit", f"headers seen: {_headers(seen)}; {published}")


def _headers(seen: dict[str, str]) -> str:
    return ", ".join(f"{name}: {value}" for name, value in sorted(seen.items()))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]
