"""API roots given by the user: http(s) only, plain http only on loopback, nothing secret."""

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class UrlWords:
    """How one source names its base URL setting in errors (`str.format` templates).

    `credentials` and `plain_http` get `setting` and `host`.
    """

    setting: str
    example: str
    credentials: str = "{setting} must not carry credentials, a query or a fragment: {host}"
    plain_http: str = (
        "{setting} uses plain http:// to {host}: use https:// (http:// only on loopback)"
    )


def check_base_url(url: str, error: type[Exception], words: UrlWords) -> SplitResult:
    """The parts of `url`, or raise `error` naming the setting.

    Refuses what is not an http(s) URL with a host, credentials, a query or a fragment, and
    plain http:// to anything but loopback.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise error(f"{words.setting} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise error(
            f"{words.setting} {url!r} is not a valid URL: use {words.example} "
            "(http:// only on loopback)"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise error(words.credentials.format(setting=words.setting, host=host))
    if parts.scheme == "http" and not is_loopback_host(host):
        raise error(words.plain_http.format(setting=words.setting, host=host))
    return parts
