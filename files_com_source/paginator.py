"""dlt's HeaderCursorPaginator, adjusted to how Files.com sends its cursor headers."""

from typing import Any

from dlt.sources.helpers.rest_client.paginators import HeaderCursorPaginator
from requests import Response

from files_com_source.errors import FilesComResponseError
from files_com_source.settings import CURSOR_HEADER, CURSOR_PARAM, LEGACY_CURSOR_HEADER


class FilesComCursorPaginator(HeaderCursorPaginator):
    """Follows `X-Files-Cursor-Next` (falling back to the legacy `X-Files-Cursor`) via `cursor`.

    Differs from the stock paginator where Files.com needs it: a blank header or an empty page
    ends the list (the stock one would request `cursor=` again), and a cursor that repeats the
    previous one is an error instead of an endless loop.
    """

    def __init__(self) -> None:
        super().__init__(cursor_key=CURSOR_HEADER, cursor_param=CURSOR_PARAM)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        previous = self._next_reference
        cursor = (
            response.headers.get(CURSOR_HEADER) or response.headers.get(LEGACY_CURSOR_HEADER) or ""
        ).strip()
        if not cursor or not data:
            self._next_reference = None
            return
        if cursor == previous:
            raise FilesComResponseError("answered the same page cursor twice")
        self._next_reference = cursor
