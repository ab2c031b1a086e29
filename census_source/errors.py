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
