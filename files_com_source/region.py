"""Files.com's region lockout: which host a 403 names, and whether the source may follow it.

A site locked to a region (or to its custom domain) answers requests that reach another host
with 403, type `not-authenticated/lockout-region-mismatch`, naming the host to use in `data.host`
or, failing that, the `X-Files-Host` header. The official SDK sends the request there once; so
does this source, under the SDK's rules: the configured API is https, the named host is a DNS
name on port 443. The one allowance beyond the SDK (its `region_development_origins`): from a
plain-http loopback `base_url` (a simulator, a local proxy) a bare host on loopback is followed
with the same scheme. Nothing is ever moved from https to http.
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import Response

from files_com_source.settings import REGION_HOST_HEADER, REGION_MISMATCH_TYPE
from syncruns_common.payload import response_payload
from syncruns_common.urls import is_loopback_host

# Names that resolve only on a developer's machine or network (as the SDK lists them).
_LOCAL_SUFFIXES = ("localhost", "test", "local", "internal", "invalid", "example", "home.arpa")
_HOST_AND_PORT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9.])?(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class Relocation:
    """Where a region lockout sends the rest of the load, or why it cannot be followed."""

    named: str  # the host as Files.com named it
    base_url: str | None  # the new API root; None when the source does not follow it
    refusal: str = ""  # why not, when base_url is None


def named_host(response: Response | None) -> str | None:
    """The host a region-lockout answer names (`data.host`, else `X-Files-Host`), or None."""
    if response is None or response.status_code != 403:
        return None
    try:
        body: Any = response_payload(response)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != REGION_MISMATCH_TYPE:
        return None
    data = body.get("data") or {}
    host = data.get("host") if isinstance(data, dict) else None
    host = host or response.headers.get(REGION_HOST_HEADER)
    return host.strip() if isinstance(host, str) and host.strip() else None


def relocation(base_url: str, named: str) -> Relocation:
    """The API root on `named` (same path as `base_url`), if the source may send there."""
    current = urlsplit(base_url)
    explicit = named.lower().startswith("https://")
    rest = (named[len("https://") :] if explicit else named).removesuffix("/")
    try:
        target = urlsplit(f"//{rest}")
        host, port = (target.hostname or "").lower(), target.port
    except ValueError:
        host, port = "", None
    if not host or not _HOST_AND_PORT.fullmatch(rest):
        return Relocation(named, None, "it is not a host name or an https:// origin")
    if current.scheme == "http":  # only a loopback base_url is http (config.resolve_base_url)
        if explicit or not is_loopback_host(host):
            return Relocation(named, None, "from a plain-http base_url only loopback is followed")
        netloc = rest.lower()
    elif (port or 443) != 443 or _is_local(host):
        return Relocation(named, None, "it is not a public host name on port 443")
    else:
        netloc = host
    if netloc == current.netloc.lower():
        return Relocation(named, None, "it is the host that answered")
    return Relocation(named, urlunsplit((current.scheme, netloc, current.path, "", "")))


def _is_local(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host.rstrip(".")
    return "." not in name or any(name == s or name.endswith("." + s) for s in _LOCAL_SUFFIXES)
