"""Errors this source raises; each message is one line that names what to fix."""

from dlt.common.configuration.exceptions import ConfigurationException


class FilesComSourceError(Exception):
    """Base class of every error raised by the Files.com source."""


# A dlt ConfigurationException too: dlt and the CLI treat it as bad configuration (exit 2).
class FilesComConfigError(FilesComSourceError, ValueError, ConfigurationException):
    """A setting or argument is invalid (API key shape, subdomain, URL, dates, page size)."""


class FilesComAuthError(FilesComSourceError):
    """Files.com rejected the API key (401) or refused access (403)."""


class FilesComUnreachableError(FilesComSourceError):
    """The API could not be reached, or kept failing, after every retry."""


class FilesComRegionError(FilesComSourceError):
    """The site is locked to another host that the source could not, or may not, follow."""


class FilesComResponseError(FilesComSourceError):
    """The API answered something other than the documented JSON."""


class FilesComNotFoundError(FilesComSourceError):
    """The API answered 404 for a run fetched by id."""
