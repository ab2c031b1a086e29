"""Errors this source raises; each message is one line that names what to fix."""


class CensusSourceError(Exception):
    """Base class of every error raised by the Census source."""


class CensusConfigError(CensusSourceError, ValueError):
    """A setting or argument is invalid (token shape, region, URL, dates, sync ids)."""


class CensusAuthError(CensusSourceError):
    """Census rejected the token (401) or refused access (403)."""


class CensusUnreachableError(CensusSourceError):
    """The API could not be reached, or kept failing, after every retry."""


class CensusResponseError(CensusSourceError):
    """The API answered with something that is not the documented JSON."""


class CensusNotFoundError(CensusSourceError):
    """The API answered 404 for a sync or run."""


class CensusGoneError(CensusSourceError):
    """The API answered 410: the data asked for (a run's records) is past its retention."""


class CensusV1RetiredError(CensusConfigError):
    """Census refused a v1 request because API v1 is retired: the fix is to switch to v2."""


class CensusGroupError(CensusConfigError):
    """API v2 needs a group (`group_id`) for a request, or refused the one it was given."""
