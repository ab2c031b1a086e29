"""A short digest of an API object, to tell whether a re-read found it changed."""

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def fingerprint(run: Mapping[str, Any]) -> str:
    """A short digest of a run's content, to skip re-loading an open run that did not change."""
    encoded = json.dumps(run, sort_keys=True, default=str).encode()
    return hashlib.blake2b(encoded, digest_size=8).hexdigest()
