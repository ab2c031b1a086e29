"""dlt's HeaderCursorPaginator, adjusted to how Files.com sends its cursor headers."""

from typing import Any

from dlt.sources.helpers.rest_client.paginators import HeaderCursorPaginator
from requests import Response

from files_com_source.errors import FilesComResponseError
from files_com_source.settings import CURSOR_HEADER, CURSOR_PARAM, LEGACY_CURSOR_HEADER


class FilesComCursorPaginator(HeaderCursorPaginator):
    """Follows `X-Files-Cursor-Next` (falling back to the legacy `X-Files-Cursor`) via `cursor`.

    Differs from the stock paginator where Files.com needs it: a blank header or an empty page
    ends the list (the stock one would request `cursor=` again), and a cursor this listing
    already followed (A→B→A, not only twice in a row) is an error instead of an endless loop.
    """

    def __init__(self) -> None:
        super().__init__(cursor_key=CURSOR_HEADER, cursor_param=CURSOR_PARAM)
        self._followed: set[str] = set()

    @property
    def cursor(self) -> str | None:
        """The cursor the next request sends (None for the first page or after the last)."""
        return self._next_reference

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        cursor = (
            response.headers.get(CURSOR_HEADER) or response.headers.get(LEGACY_CURSOR_HEADER) or ""
        ).strip()
        if not cursor or not data:
            self._next_reference = None
            return
        if cursor in self._followed:
            raise FilesComResponseError(
                "answered a page cursor this listing already followed; stopped so it does not "
                "read the same pages again"
            )
        self._followed.add(cursor)
        self._next_reference = cursor
