"""The syncs a user selected: ids from a list or a comma-separated string, checked, deduplicated."""

from collections.abc import Iterable

SyncIdsInput = Iterable[int | str] | int | str | None


def normalize_sync_ids(
    sync_ids: SyncIdsInput,
    error: type[Exception],
    product: str,
    setting: str,
    numeric: bool = True,
) -> tuple[str, ...] | None:
    """Return the selected sync ids as strings, in order, once each (None = every sync).

    Numeric ids must be ASCII digits (leading zeros dropped); other ids may be any string
    without blanks or control characters. Raise `error` naming `setting`, e.g.
    "sources.census.sync_ids"; `product` names the tool in messages ("Census").
    """
    if sync_ids is None:
        return None
    if isinstance(sync_ids, int | str):
        sync_ids = [part for part in str(sync_ids).split(",") if part.strip()]
    normalized: list[str] = []
    for raw in sync_ids:
        text = str(raw).strip()
        if numeric and (isinstance(raw, bool) or not (text.isascii() and text.isdigit())):
            raise error(f"sync id {raw!r} is not a numeric {product} sync id: fix {setting}")
        if isinstance(raw, bool) or not text or not text.isprintable() or " " in text:
            raise error(f"sync id {raw!r} is not a valid id: fix {setting}")
        if numeric:
            text = str(int(text))
        if text not in normalized:
            normalized.append(text)
    if not normalized:
        raise error(f"{setting} is empty: list sync ids or leave it unset")
    return tuple(normalized)
