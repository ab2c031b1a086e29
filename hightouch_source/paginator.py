"""Paginator for Hightouch list endpoints: `limit`/`offset` requests, `{data, hasMore}` answers."""

from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from hightouch_source.errors import HightouchResponseError
from syncruns_common.payload import response_payload


class HasMorePaginator(BasePaginator):
    """Sends `limit` and `offset`; follows `hasMore` until it is false or a page is empty.

    The offset advances by the items actually received, not by `limit`, so a server that caps
    the page size lower than asked is still read without gaps. `hasMore` is optional (an older
    official OpenAPI answers `{data}` only): without it the listing goes on until an empty page,
    one request more per listing. A short page does not end it: it may be a cap on `limit`.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.offset = 0

    def init_request(self, request: Request) -> None:
        request.params.update({"limit": self.limit, "offset": self.offset})

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        has_more = response_payload(response).get("hasMore")
        if has_more is not None and not isinstance(has_more, bool):
            raise HightouchResponseError(
                f"answered a 'hasMore' that is not a boolean: {has_more!r}"
            )
        received = len(data or ())
        self.offset += received
        if has_more is False or not received:
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        request.params["offset"] = self.offset

    def __str__(self) -> str:
        return f"HasMorePaginator(limit={self.limit}, offset={self.offset})"
