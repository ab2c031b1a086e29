"""The records of a sync run (``GET /sync_runs/{id}/records``): what was sent, rejected, skipped.

Records are derived from the world seed, the run id and the run's current counts with their own
``random.Random`` instances, never from the world's main stream, so serving records changes no
other document. Choices of ours where the public docs are silent:

- A finished run has ``min(records_updated, cap)`` succeeded, ``min(records_failed, cap)``
  rejected and ``min(records_invalid, cap)`` invalid-kind records (``cap`` =
  :data:`RECORDS_PER_STATUS_CAP`; a null count counts as 0). A run that is not finished
  (completed, failed or skipped) has no records yet.
- Invalid-kind records have status ``invalid`` (a data-quality problem), ``NULL`` (the
  identifier was null: ``identifier`` is null too) or ``DUPLICATE`` (the identifier of another
  record of the run); a duplicate is sometimes followed by a byte-identical twin.
- The payload holds the sync's mapped fields (the primary identifier first) plus a few extra
  fields chosen per sync (unicode text, nulls, nested objects, lists); a ``delete`` carries
  only the identifier field. Succeeded records have a null ``status_message``.
- Records are grouped in one to six batches inside the run's lifetime; they are served batch
  by batch, and within a batch succeeded, rejected, then invalid-kind records.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from simulator_common.odd_values import parsed_or_none
from simulator_common.timefmt import US_PER_MS, format_us, parse_us

from .generator import TERMINAL_STATUSES

RECORDS_PER_STATUS_CAP: Final = 150
"""At most this many records of each kind (succeeded, rejected, invalid-kind) per run."""

DEFAULT_RECORDS_RETENTION_DAYS: Final = 14.0
"""Records of runs finished longer ago than this are gone (HTTP 410)."""

RECORD_STATUS_FILTERS: Final = ("succeeded", "rejected", "invalid")
"""Values of the ``status`` filter; ``invalid`` also matches ``NULL`` and ``DUPLICATE``."""

RECORD_OPERATIONS: Final = ("upsert", "delete")
"""Values of the ``operation`` filter and of a record's ``operation``."""

INVALID_KINDS: Final = frozenset({"invalid", "NULL", "DUPLICATE"})
"""Record statuses that the ``status=invalid`` filter returns."""

_REJECTIONS: Final = (
    "INVALID_EMAIL_ADDRESS: Email: invalid email address: {identifier}",
    "DUPLICATE_VALUE: duplicate value found: External_Id__c duplicates value on record with "
    "id: 0035e00000{number:06d}",
    "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]",
    'Request failed with status code 400: {{"message":"Property values were not valid",'
    '"category":"VALIDATION_ERROR"}}',
    "429 Too Many Requests: the destination still rate-limited the batch after 5 retries",
    "STRING_TOO_LONG: Name: data value too large: “Großkunde \u2013 Zürich Süd …” (max length=80)",
    "Die Zielanwendung hat den Datensatz abgelehnt: Feld „Land“ ist ungültig",
    "宛先がレコードを拒否しました: 必須フィールド “email” がありません",
    "ENTITY_IS_DELETED: entity is deleted ({identifier})",
)
_INVALIDS: Final = (
    "Field “{field}” contains invalid UTF-8 (0xC3 0x28)",
    "Record exceeds the destination's maximum size of 1 MB",
    'Field "{field}" is longer than 255 characters',
)
_INVALIDS_BY_KIND: Final = {
    "email": 'Field "{field}" is not a valid email address: "jürgen@@beispiel"',
    "lifetime_value": 'Value of "{field}" is not a number: "n/a"',
    "score": 'Value of "{field}" is not a number: "∞"',
    "tags": "Array field \"{field}\" is not valid JSON: ['beta',",
    "properties": 'Object field "{field}" nests deeper than 10 levels',
    "signed_up_at": 'Field "{field}" is not a valid timestamp: "31.02.2023 25:00"',
}
_NULL_MESSAGE: Final = 'Primary identifier "{field}" is null; the record was skipped'
_DUPLICATE_MESSAGE: Final = (
    'Primary identifier "{identifier}" appears {times} times in the source; the record was skipped'
)

_LOCALS: Final = ("anna", "jürgen.müller", "li.wei", "o'brien", "zoë", "maría-josé", "ayşe")
_DOMAINS: Final = ("example.com", "beispiel.de", "例え.jp", "exemple.fr")
_NAMES: Final = (
    "Zoë Ålander",
    "李雷",
    "Ünal Çelik",
    "José Ñúñez",
    "Ирина Петрова",
    "O'Connor & Sons",
    "🚀 Growth Team",
    "",
)
_PLANS: Final = ("free", "pro", "enterprise", None)
_COUNTRIES: Final = ("US", "DE", "JP", "BR", "TR", "FR", None)
_CITIES: Final = ("Zürich", "東京", "São Paulo", "Kraków", None)
_TAGS: Final = ("beta", "vip", "churn-risk", "größe", "新規")
_EXTRAS: Final = ("name", "properties", "tags", "score", "signed_up_at", "is_active")


@dataclass(frozen=True)
class _Schema:
    """The payload shape of one sync: the identifier field and the other fields."""

    key: str
    key_column: str
    fields: tuple[tuple[str, str], ...]  # (payload key, value kind)


def make_records(
    seed: int, run: Mapping[str, Any], sync: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every record of ``run`` (a v1 run dict of ``sync``) in the order they are served."""
    status = run.get("status")
    if not isinstance(status, str) or status not in TERMINAL_STATUSES:
        return []
    counts = [_capped(run.get(key)) for key in ("records_updated", "records_failed")]
    invalid_count = _capped(run.get("records_invalid"))
    total = sum(counts) + invalid_count
    if total == 0:
        return []
    schema = _schema(seed, sync)
    rng = random.Random(f"census-records/{seed}/{run['id']}")
    batches = _batches(rng, run, total)
    p_delete = _delete_share(run)
    numbers = rng.sample(range(1, 1_000_000), total)
    drafts: list[tuple[int, dict[str, Any]]] = []
    for status, count in zip(("succeeded", "rejected"), counts, strict=True):
        for _ in range(count):
            number = numbers[len(drafts)]
            batch = rng.randrange(len(batches))
            operation = "delete" if rng.random() < p_delete else "upsert"
            message = None
            if status == "rejected":
                template = rng.choice(_REJECTIONS)
                message = template.format(identifier=_identifier(schema, number), number=number)
            record = _record(rng, schema, number, batches[batch], operation, status, message)
            drafts.append((batch, record))
    sent = len(drafts)
    made = 0
    while made < invalid_count:
        batch = rng.randrange(len(batches))
        number = numbers[sent + made]
        r = rng.random()
        if r < 0.5:
            field, kind = rng.choice(schema.fields or ((schema.key, schema.key_column),))
            templates = (*_INVALIDS, _INVALIDS_BY_KIND.get(kind, _INVALIDS[0]))
            message = templates[rng.randrange(len(templates))].format(field=field)
            record = _record(rng, schema, number, batches[batch], "upsert", "invalid", message)
        elif r < 0.75:
            message = _NULL_MESSAGE.format(field=schema.key)
            record = _record(rng, schema, None, batches[batch], "upsert", "NULL", message)
        else:
            if sent and rng.random() < 0.6:  # duplicates a record that was sent
                number = numbers[rng.randrange(sent)]
            twin = made + 2 <= invalid_count and rng.random() < 0.5
            times = 3 if twin else 2
            message = _DUPLICATE_MESSAGE.format(identifier=_identifier(schema, number), times=times)
            record = _record(rng, schema, number, batches[batch], "upsert", "DUPLICATE", message)
            if twin:
                drafts.append((batch, record))
                made += 1
                record = dict(record)  # the same content again: byte-identical when served
        drafts.append((batch, record))
        made += 1
    drafts.sort(key=lambda draft: draft[0])  # stable: generation order within a batch
    return [record for _, record in drafts]


def check_filters(status: str | None, operation: str | None) -> None:
    """Raise ValueError naming the bad filter value."""
    if status is not None and status not in RECORD_STATUS_FILTERS:
        raise ValueError(
            f"status must be one of {', '.join(RECORD_STATUS_FILTERS)}, not {status!r}"
        )
    if operation is not None and operation not in RECORD_OPERATIONS:
        raise ValueError(
            f"operation must be one of {', '.join(RECORD_OPERATIONS)}, not {operation!r}"
        )


def status_matches(record_status: str, wanted: str | None) -> bool:
    """Whether a record status passes the ``status`` filter (None: no filter)."""
    if wanted is None:
        return True
    if wanted == "invalid":
        return record_status in INVALID_KINDS
    return record_status == wanted


def _identifier(schema: _Schema, number: int) -> str:
    """The primary identifier of entity ``number`` under a sync's schema."""
    column = schema.key_column
    if column == "email":
        local = _LOCALS[number % len(_LOCALS)]
        return f"{local}{number}@{_DOMAINS[number % len(_DOMAINS)]}"
    if column == "user_id":
        return f"usr_{number}"
    if column == "account_id":
        return f"acct_{number}"
    return f"id_{number}"


def retention_reference_us(run: Mapping[str, Any]) -> int | None:
    """When a run's records start ageing: completed_at, else created_at (None if neither).

    A value that is not a timestamp with a zone counts as missing.
    """
    for key in ("completed_at", "created_at"):
        moment = parsed_or_none(parse_us, run.get(key))
        if moment is not None:
            return moment
    return None


# ----------------------------------------------------------------- internals
def _capped(value: Any) -> int:
    return min(value, RECORDS_PER_STATUS_CAP) if isinstance(value, int) and value > 0 else 0


def _schema(seed: int, sync: Mapping[str, Any]) -> _Schema:
    rng = random.Random(f"census-records-schema/{seed}/{sync.get('id')}")
    mappings: Sequence[Mapping[str, Any]] = sync.get("mappings") or []
    fields: list[tuple[str, str]] = []
    key, key_column = "id", "id"
    for index, mapping in enumerate(mappings):
        column = str((mapping.get("from") or {}).get("data", "id"))
        name = str(mapping.get("to", column))
        if mapping.get("is_primary_identifier") or (index == 0 and key_column == "id"):
            key, key_column = name, column
        else:
            fields.append((name, column))
    fields.extend((extra, extra) for extra in rng.sample(_EXTRAS, rng.randint(1, 4)))
    return _Schema(key, key_column, tuple(field for field in fields if field[0] != key))


def _batches(rng: random.Random, run: Mapping[str, Any], total: int) -> list[tuple[str, str]]:
    """(started, completed) timestamps of the run's batches, in time order."""
    start = retention_reference_us({"created_at": run.get("created_at")}) or 0
    end = start
    for key in ("completed_at", "updated_at"):
        moment = parsed_or_none(parse_us, run.get(key))
        if moment is not None:
            end = max(start, moment)
            break
    count = 1 + min(5, total // 60)
    span_ms = (end - start) // US_PER_MS
    points = sorted(start + rng.randint(0, span_ms) * US_PER_MS for _ in range(count))
    bounds = [*points[1:], end]
    return [
        (
            format_us(began),
            format_us(began + rng.randint(0, (until - began) // US_PER_MS) * US_PER_MS),
        )
        for began, until in zip(points, bounds, strict=True)
    ]


def _delete_share(run: Mapping[str, Any]) -> float:
    deletes, processed = run.get("source_record_deletes"), run.get("records_processed")
    ratio = (
        deletes / processed
        if isinstance(deletes, int) and isinstance(processed, int) and processed > 0
        else 0.0
    )
    return 0.05 + min(0.25, 5 * ratio)


def _record(
    rng: random.Random,
    schema: _Schema,
    number: int | None,
    batch: tuple[str, str],
    operation: str,
    status: str,
    message: str | None,
) -> dict[str, Any]:
    identifier = None if number is None else _identifier(schema, number)
    payload: dict[str, Any] = {schema.key: identifier}
    if operation == "upsert":
        for name, kind in schema.fields:
            payload[name] = _value(rng, kind, number or 0)
    started, completed = batch
    return {
        "record_payload": payload,
        "identifier": identifier,
        "batch_started_at": started,
        "batch_completed_at": completed,
        "operation": operation,
        "status": status,
        "status_message": message,
    }


def _value(rng: random.Random, kind: str, number: int) -> Any:
    if kind == "email":
        return f"{rng.choice(_LOCALS)}{number}@{rng.choice(_DOMAINS)}"
    if kind == "user_id":
        return f"usr_{number}"
    if kind == "account_id":
        return rng.randint(1, 99_999)
    if kind == "plan":
        return rng.choice(_PLANS)
    if kind == "lifetime_value":
        return None if rng.random() < 0.1 else round(rng.uniform(0, 5000), 2)
    if kind == "country":
        return rng.choice(_COUNTRIES)
    if kind == "name":
        return rng.choice(_NAMES)
    if kind == "properties":
        if rng.random() < 0.15:
            return None
        return {
            "plan_tier": rng.choice(_PLANS),
            "seats": rng.randint(1, 500),
            "flags": rng.sample(_TAGS, rng.randint(0, 2)),
            "address": {"city": rng.choice(_CITIES)},
        }
    if kind == "tags":
        return rng.sample(_TAGS, rng.randint(0, 3))
    if kind == "score":
        return None if rng.random() < 0.2 else round(rng.random(), 4)
    if kind == "signed_up_at":
        return (
            f"20{rng.randint(15, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T08:00:00Z"
        )
    if kind == "is_active":
        return rng.random() < 0.8
    return f"{kind}_{number}"
