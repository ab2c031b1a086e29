"""Reading why Census refused a request: v1 retired, or v2 wanting a group.

Neither answer is published, so detection is tolerant: any 4xx whose body (a JSON `message`,
`error` or `errors`, or the raw text) says so, and for v1 also a 410 with a `Sunset` header.
"""

import json
import re

from requests import Response

_V1 = re.compile(r"\b(api[ /_-]?)?v1\b|version 1\b|/api/v1")
_GONE = re.compile(
    r"retired|sunset|deprecated|decommissioned|discontinued|removed|no longer (supported|"
    r"available)|use (the )?(api )?v2|/api/v2"
)
_GROUP_ID = re.compile(r"group[ _-]?id")
_GROUP_NEEDED = re.compile(r"\bgroup\b.*\b(required|missing|must|needs?)\b")
_MAX_BODY = 2000


def body_text(response: Response | None) -> str:
    """The words of an error body, lower case: its message fields, else its text."""
    if response is None:
        return ""
    raw = response.text[:_MAX_BODY]
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw.lower()
    if isinstance(payload, dict):
        parts = [payload.get(key) for key in ("message", "error", "errors", "detail", "title")]
        words = " ".join(json.dumps(part) for part in parts if part)
        return (words or raw).lower()
    return raw.lower()


def says_v1_retired(response: Response | None) -> bool:
    """Whether a 4xx answer to a v1 request says API v1 is gone."""
    if response is None or not 400 <= response.status_code < 500:
        return False
    if response.status_code == 410 and "sunset" in {key.lower() for key in response.headers}:
        return True
    text = body_text(response)
    return bool(_V1.search(text) and _GONE.search(text))


def says_group_needed(response: Response | None) -> bool:
    """Whether a 4xx answer (not 401 or 429) names the group id as the problem."""
    if response is None or response.status_code in (401, 429):
        return False
    if not 400 <= response.status_code < 500:
        return False
    text = body_text(response)
    return bool(_GROUP_ID.search(text) or _GROUP_NEEDED.search(text))


def names_group(response: Response | None) -> bool:
    """Whether an answer mentions a group at all (a 404 `group not found`)."""
    return "group" in body_text(response)
