"""The cursor-header paginator on hand-built responses: which header, when to stop, loops."""

import pytest
from requests import Request, Response

from files_com_source.errors import FilesComResponseError
from files_com_source.paginator import FilesComCursorPaginator


def response(**headers: str) -> Response:
    built = Response()
    built.status_code = 200
    built.headers.update({name.replace("_", "-"): value for name, value in headers.items()})
    return built


def next_params(paginator: FilesComCursorPaginator, answer: Response, page: list[int]) -> object:
    request = Request("GET", "http://127.0.0.1/api/rest/v1/sync_runs", params={"per_page": 2})
    paginator.update_state(answer, page)
    paginator.update_request(request)
    return request.params if paginator.has_next_page else None


def test_documented_header_wins_over_the_legacy_one() -> None:
    answer = response(X_Files_Cursor_Next="abc", X_Files_Cursor="old")
    assert next_params(FilesComCursorPaginator(), answer, [1, 2]) == {
        "per_page": 2,
        "cursor": "abc",
    }


def test_legacy_header_alone_is_followed() -> None:
    params = next_params(FilesComCursorPaginator(), response(X_Files_Cursor="old"), [1])
    assert params == {"per_page": 2, "cursor": "old"}


@pytest.mark.parametrize(
    ("answer", "page"),
    [
        (response(), [1, 2]),  # no header: the last page
        (response(X_Files_Cursor_Next="  "), [1, 2]),  # blank header
        (response(X_Files_Cursor_Next="abc"), []),  # an empty page ends the list
    ],
)
def test_list_ends(answer: Response, page: list[int]) -> None:
    assert next_params(FilesComCursorPaginator(), answer, page) is None


@pytest.mark.parametrize("cursors", [["abc", "abc"], ["abc", "def", "abc"]])
def test_a_cursor_already_followed_is_an_error_not_a_loop(cursors: list[str]) -> None:
    paginator = FilesComCursorPaginator()
    for cursor in cursors[:-1]:
        next_params(paginator, response(X_Files_Cursor_Next=cursor), [1])
    with pytest.raises(FilesComResponseError, match="cursor this listing already followed"):
        next_params(paginator, response(X_Files_Cursor_Next=cursors[-1]), [2])
