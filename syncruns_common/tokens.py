"""API tokens and keys given by the user: present, and free of blanks and non-ASCII."""

import re

# a value copied from an `Authorization: Bearer <token>` header
_BEARER = re.compile(r"\s*(?:authorization\s*:\s*)?bearer\s+\S", re.IGNORECASE)


def validate_api_key(
    api_key: object, error: type[Exception], what: str, config_key: str, env_var: str
) -> str:
    """Return the token stripped of surrounding blanks, or raise `error` naming where to set it.

    `what` names the token in messages, e.g. "The Census API token".
    """
    where = f"{config_key} (or env {env_var})"
    if not isinstance(api_key, str) or not api_key.strip():
        raise error(f"{what} is empty: set {where}")
    if _BEARER.match(api_key):  # never echo the key: say what to drop
        raise error(f"{what} starts with 'Bearer ': drop that prefix and set only it in {where}")
    token = api_key.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in token) or not token.isascii():
        raise error(f"{what} contains blanks or non-ASCII characters: check {where}")
    return token
