"""Paginator for Census list endpoints: page numbers from the documented `pagination` envelope."""

from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from census_source.errors import CensusResponseError
from census_source.settings import PAGE_SIZE
from syncruns_common.payload import response_payload


class CensusPagePaginator(BasePaginator):
    """Requests `page`, `per_page` and `order`; follows `pagination.next_page` until it is null.

    Keeps the last envelope (`total_records`, `page`) so callers can plan how deep to read.
    `order=None` sends no order. With `envelope_optional` (the records endpoint, whose docs show
    no envelope) a missing envelope means: another page follows while pages come back full.
    """

    def __init__(
        self,
        order: str | None = "desc",
        page_size: int = PAGE_SIZE,
        envelope_optional: bool = False,
    ) -> None:
        super().__init__()
        self.order = order
        self.page_size = page_size
        self.envelope_optional = envelope_optional
        self.page = 1
        self.total_records: int | None = None

    def init_request(self, request: Request) -> None:
        request.params.update({"page": self.page, "per_page": self.page_size})
        if self.order is not None:
            request.params["order"] = self.order

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        pagination = response_payload(response).get("pagination")
        if pagination is None and self.envelope_optional:
            if len(data or ()) < self.page_size:
                self._has_next_page = False
            else:
                self.page += 1
            return
        if not isinstance(pagination, dict) or "next_page" not in pagination:
            raise CensusResponseError("answered JSON without the pagination.next_page envelope")
        total = pagination.get("total_records")
        self.total_records = int(total) if isinstance(total, int | float) else None
        next_page = pagination["next_page"]
        if next_page is None:
            self._has_next_page = False
            return
        if not isinstance(next_page, int | float) or int(next_page) <= self.page:
            raise CensusResponseError(f"answered an invalid pagination.next_page {next_page!r}")
        self.page = int(next_page)

    def update_request(self, request: Request) -> None:
        request.params["page"] = self.page

    def __str__(self) -> str:
        return f"CensusPagePaginator(page={self.page}, order={self.order})"
