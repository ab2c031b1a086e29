"""Errors this source raises; each message is one line that names what to fix."""


class FilesComSourceError(Exception):
    """Base class of every error raised by the Files.com source."""


class FilesComConfigError(FilesComSourceError, ValueError):
    """A setting or argument is invalid (API key shape, subdomain, URL, dates, page size)."""


class FilesComAuthError(FilesComSourceError):
    """Files.com rejected the API key (401) or refused access (403)."""


class FilesComUnreachableError(FilesComSourceError):
    """The API could not be reached, or kept failing, after every retry."""


class FilesComResponseError(FilesComSourceError):
    """The API answered something other than the documented JSON."""


class FilesComNotFoundError(FilesComSourceError):
    """The API answered 404 for a run fetched by id."""
