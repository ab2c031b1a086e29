"""API versions, dataset id types and record keys: the pure parts of issue 6, case by case."""

from datetime import date

import pytest
from dlt.common.schema import Schema

from census_source.config import (
    normalize_sync_ids,
    parse_api_version,
    resolve_base_url,
    validate_group_id,
)
from census_source.errors import CensusConfigError, CensusResponseError
from census_source.ids import dataset_id_type, id_codec
from census_source.records import record_rows, wanted_statuses
from census_source.versions import V1, V2, retirement_notice


def test_api_versions_parse_and_unknown_ones_name_the_setting() -> None:
    assert parse_api_version("v1") is V1
    assert parse_api_version(" V2 ") is V2
    with pytest.raises(
        CensusConfigError, match=r"set sources\.census\.api_version to 'v1' or 'v2'"
    ):
        parse_api_version("v3")


def test_v2_has_a_root_per_region_and_a_base_url_must_match_the_version() -> None:
    assert resolve_base_url("us", None, V2) == "https://app.getcensus.com/api/v2"
    assert resolve_base_url("eu", None, V2) == "https://app-eu.getcensus.com/api/v2"
    assert resolve_base_url("eu", None, V1) == "https://app-eu.getcensus.com/api/v1"
    assert resolve_base_url("us", "http://127.0.0.1:9/api/v2", V2) == "http://127.0.0.1:9/api/v2"
    with pytest.raises(CensusConfigError, match=r"ends with /api/v1 but sources\.census"):
        resolve_base_url("us", "https://app.getcensus.com/api/v1", V2)
    with pytest.raises(CensusConfigError, match=r"ends with /api/v2 but sources\.census"):
        resolve_base_url("us", "https://app.getcensus.com/api/v2/", V1)


def test_group_id_is_v2_only_and_checked() -> None:
    assert validate_group_id(None, V2) is None
    assert validate_group_id("  ", V2) is None
    assert validate_group_id(" projected_sickle ", V2) == "projected_sickle"
    with pytest.raises(CensusConfigError, match="group_id applies only to API v2"):
        validate_group_id("projected_sickle", V1)
    with pytest.raises(CensusConfigError, match="not a valid group id"):
        validate_group_id("two words", V2)


def test_sync_ids_are_numeric_on_v1_and_any_string_on_v2() -> None:
    assert normalize_sync_ids(["007", 12], numeric=True) == ("7", "12")
    assert normalize_sync_ids(["sync_8f3k", "007", 12], numeric=False) == ("sync_8f3k", "007", "12")
    with pytest.raises(CensusConfigError, match="not a numeric Census sync id"):
        normalize_sync_ids(["sync_8f3k"], numeric=True)
    for bad in (["a b"], [True], ["tab\there"]):
        with pytest.raises(CensusConfigError, match=r"fix sources\.census\.sync_ids"):
            normalize_sync_ids(bad, numeric=False)


def _schema_with(table: str, column: str, data_type: str) -> Schema:
    schema = Schema("census")
    schema.update_table(
        {"name": table, "columns": {column: {"name": column, "data_type": data_type}}}  # type: ignore[typeddict-item]
    )
    return schema


def test_a_dataset_keeps_the_id_type_of_its_first_load() -> None:
    empty = Schema("census")
    assert dataset_id_type(empty, V1) == "bigint"
    assert dataset_id_type(empty, V2) == "text"
    assert dataset_id_type(_schema_with("sync_runs", "id", "bigint"), V2) == "bigint"
    assert dataset_id_type(_schema_with("syncs", "id", "text"), V1) == "text"


def test_id_codecs_never_break_on_strings_they_can_keep() -> None:
    as_int, as_text = id_codec("bigint"), id_codec("text")
    assert as_int(100123) == 100123
    assert as_int("100123") == 100123
    assert as_text(100123) == "100123"
    assert as_text("run_8f3k") == "run_8f3k"
    with pytest.raises(CensusResponseError, match="load API v2 into a new dataset"):
        as_int("run_8f3k")
    for bad in (None, True, "", 1.5, {"id": 1}):
        with pytest.raises(CensusResponseError):
            as_text(bad)


def test_v1_carries_a_retirement_warning_from_mid_december() -> None:
    assert retirement_notice(V1, date(2026, 12, 14)) is None
    soon = retirement_notice(V1, date(2026, 12, 15))
    assert soon is not None and "will be retired on 2027-01-15" in soon
    assert "api_version = 'v2'" in soon
    gone = retirement_notice(V1, date(2027, 2, 1))
    assert gone is not None and "was retired on 2027-01-15" in gone
    assert retirement_notice(V2, date(2027, 2, 1)) is None


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ({"status": "failed", "records_failed": 3, "records_invalid": 0}, ["rejected"]),
        ({"status": "completed", "records_failed": 0, "records_invalid": 2}, ["invalid"]),
        ({"status": "completed", "source_record_invalids": 1}, ["invalid"]),
        (
            {"status": "completed", "records_failed": 1, "records_invalid": 1},
            ["rejected", "invalid"],
        ),
        ({"status": "completed", "records_failed": 0, "records_invalid": 0}, []),
        ({"status": "working", "records_failed": 5}, []),
        ({"status": "skipped", "records_failed": 5}, []),
        ({"status": "failed", "records_failed": None, "records_invalid": True}, []),
    ],
)
def test_which_runs_have_records_worth_asking_for(
    run: dict[str, object], expected: list[str]
) -> None:
    assert wanted_statuses(run) == expected


def test_record_keys_are_stable_under_reordering_and_keep_exact_repeats() -> None:
    run = {"id": "100200", "sync_id": "1000"}
    first = {"identifier": "a", "status": "rejected", "record_payload": {"x": 1}}
    second = {"identifier": None, "status": "NULL", "record_payload": {"x": None}}
    rows = record_rows(run, [first, second, dict(first)], id_codec("bigint"))
    again = record_rows(run, [second, first, first], id_codec("bigint"))
    assert sorted(row["record_key"] for row in rows) == sorted(row["record_key"] for row in again)
    assert len({row["record_key"] for row in rows}) == 3
    assert {row["sync_run_id"] for row in rows} == {100200}
    assert {row["sync_id"] for row in rows} == {1000}
