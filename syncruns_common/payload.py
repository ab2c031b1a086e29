"""Parse a response body once and reuse it in the retry check, the extractor and the paginator."""

import json
from typing import Any

import orjson
from requests import Response

_PAYLOAD_ATTR = "_syncruns_payload"
_UNREADABLE = object()
# orjson reads integers outside [-2**63, 2**64) as floats: a body with a run of 19 digits goes
# to the stdlib parser. Every digit becomes "0" and the run is found with a plain substring
# search (a regex over every body cost more than the parse).
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19


def parse_json(content: bytes) -> Any:
    """The JSON value of `content`, every integer exact; ValueError if it is not JSON."""
    if _LONG_NUMBER in content.translate(_DIGITS_AS_ZERO):  # rare: stdlib keeps big ints exact
        return json.loads(content, parse_constant=_no_constant)
    return orjson.loads(content)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # as orjson: NaN and Infinity are refused


def response_payload(response: Response) -> Any:
    """Return the parsed JSON body (cached on the response); raise ValueError if it is not JSON."""
    cached = getattr(response, _PAYLOAD_ATTR, None)
    if cached is None:
        try:
            cached = parse_json(response.content)
        except ValueError:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
            cached = _UNREADABLE
        setattr(response, _PAYLOAD_ATTR, cached)
    if cached is _UNREADABLE:
        raise ValueError("response body is not JSON")
    return cached


def json_payload(response: Response, error: type[Exception]) -> Any:
    """The parsed body; raise `error` naming its content type and size when it is not JSON."""
    try:
        return response_payload(response)
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type")
        raise error(
            f"answered a body that is not JSON ({kind}, {len(response.content)} bytes) "
            "after every retry"
        ) from None


def body_is_unreadable(response: Response | None, exception: BaseException | None) -> bool:
    """Retry predicate for dlt's retrying session: a 200 whose body is not a JSON object."""
    if response is None or response.status_code != 200:
        return False
    try:
        return not isinstance(response_payload(response), dict)
    except ValueError:
        return True


def body_is_not_json(response: Response | None, exception: BaseException | None) -> bool:
    """Retry predicate for APIs that answer bare arrays: a 200 whose body is not JSON at all."""
    if response is None or response.status_code != 200:
        return False
    try:
        response_payload(response)
    except ValueError:
        return True
    return False
