"""Errors this source raises; each message is one line that names what to fix."""


class HightouchSourceError(Exception):
    """Base class of every error raised by the Hightouch source."""


class HightouchConfigError(HightouchSourceError, ValueError):
    """A setting or argument is invalid (token shape, URL, dates, sync ids, limits)."""


class HightouchAuthError(HightouchSourceError):
    """Hightouch rejected the token (401) or refused access (403)."""


class HightouchUnreachableError(HightouchSourceError):
    """The API could not be reached, or kept failing, after every retry."""


class HightouchResponseError(HightouchSourceError):
    """The API answered with something that is not the documented JSON."""


class HightouchNotFoundError(HightouchSourceError):
    """The API answered 404 (a sync deleted while loading)."""
