"""The requests of Hightouch's own Airflow hook (and Dagster resource), replayed over HTTP.

airflow-provider-hightouch 5.0.0 `HightouchHook` is an HttpHook on base "api/v1/": it sends
GET syncs/{id}/runs with params {"runId": ...}, GET syncs/{id}, GET syncs?slug=..., POST
syncs/trigger with form data {syncId} or {syncSlug}, each with `accept: application/json`,
`Authorization: Bearer <key>` and its User-Agent, and reads `resp["data"]` if present, else
`resp`. dagster-hightouch 0.29.27 sends POST syncs/{id}/trigger and reads
`sync_details["destinationId"]`. The assertions restate what the hook reads of each answer
(utils.parse_sync_run_details, poll_sync, get_sync_from_slug, start_sync); no Airflow needed.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import dlt
import pytest
import requests
from dateutil import parser as dateutil_parser  # type: ignore[import-untyped]

from hightouch_simulator import HightouchSimulator, World
from tests.hightouch.conftest import TOKEN, source_for
from tests.hightouch.truth import assert_matches_truth

HOOK_BASE = "api/v1/"  # airflow_provider_hightouch.consts.HIGHTOUCH_API_BASE_V3
HOOK_HEADERS = {
    "accept": "application/json",
    "Authorization": f"Bearer {TOKEN}",
    "User-Agent": "AirflowHightouchOperator/5.0.0",
}
# airflow_provider_hightouch.consts (the same lists in dagster_hightouch.resources)
TERMINAL = ["cancelled", "failed", "success", "warning", "interrupted"]
PENDING = ["queued", "querying", "processing", "reporting", "pending"]
ROW_GROUPS = ("plannedRows", "successfulRows", "failedRows")


class Hook:
    """The hook's make_request: HttpHook's URL join, params on GET, form data on POST."""

    def __init__(self, sim: HightouchSimulator, session: requests.Session) -> None:
        self.sim = sim
        self.session = session

    def request(self, method: str, endpoint: str, data: dict[str, Any] | None = None) -> Any:
        url = self.sim.base_url + "/" + urljoin(HOOK_BASE, endpoint)
        if method == "GET":
            response = self.session.get(url, params=data, headers=HOOK_HEADERS, timeout=10)
        else:
            response = self.session.request(
                method, url, data=data, headers=HOOK_HEADERS, timeout=10
            )
        assert response.status_code == 200, response.text
        body = response.json()
        return body.get("data", body)  # resp["data"] if "data" in resp else resp


@pytest.fixture
def hook(simulator: HightouchSimulator) -> Iterator[Hook]:
    with requests.Session() as session:
        yield Hook(simulator, session)


def assert_parses_as_the_hook_reads_it(run: dict[str, Any]) -> None:
    """What utils.parse_sync_run_details and poll_sync need of one run."""
    for field in ("createdAt", "startedAt", "finishedAt"):
        if run.get(field):
            assert dateutil_parser.parse(run[field]).tzinfo is not None
    for group in ROW_GROUPS:
        counts = run[group]  # subscripted, then .get: must be an object
        assert isinstance(counts, dict)
        assert all(isinstance(counts.get(key), int) for key in ("addedCount", "changedCount"))
        assert isinstance(counts.get("removedCount"), int)
    assert isinstance(float(run.get("completionRatio", 0)), float)
    assert isinstance(run.get("querySize"), int)
    assert run.get("error") is None or isinstance(run["error"], str)
    assert run["status"] in TERMINAL + PENDING + ["aborted"]  # aborted: "Unexpected status"


def test_the_hook_reads_a_run_by_id_a_sync_and_a_sync_by_slug(world: World, hook: Hook) -> None:
    sync = world.syncs[4]
    for run in world.runs_of(sync["id"]) or []:
        answer = hook.request("GET", f"syncs/{sync['id']}/runs", {"runId": str(run["id"])})
        assert isinstance(answer, list) and len(answer) == 1  # poll_sync takes [0]
        assert answer[0]["id"] == str(run["id"])
        assert_parses_as_the_hook_reads_it(answer[0])

    details = hook.request("GET", f"syncs/{sync['id']}")
    assert details == sync and "data" not in details  # the sync itself, not an envelope
    assert details["destinationId"]  # dagster_hightouch reads it next
    by_slug = hook.request("GET", "syncs", {"slug": sync["slug"]})
    assert by_slug[0]["id"] == sync["id"] and len(by_slug) == 1  # get_sync_from_slug


def test_the_hooks_trigger_and_poll_loop_ends_on_a_terminal_status(
    world: World, simulator: HightouchSimulator, hook: Hook, pipeline: dlt.Pipeline
) -> None:
    sync = world.syncs[2]
    run_id = hook.request("POST", "syncs/trigger", {"syncId": sync["id"]})["id"]  # start_sync
    by_slug = hook.request("POST", "syncs/trigger", {"syncSlug": world.syncs[3]["slug"]})["id"]
    dagster = hook.request("POST", f"syncs/{world.syncs[6]['id']}/trigger")["id"]
    assert all(isinstance(i, str) and i.isdigit() for i in (run_id, by_slug, dagster))
    assert world.sync_of_run(int(by_slug)) == world.syncs[3]["id"]

    first = hook.request("GET", f"syncs/{sync['id']}/runs", {"runId": run_id})[0]
    assert_parses_as_the_hook_reads_it(first)
    assert first["status"] in PENDING and first["finishedAt"] is None  # the hook polls on
    world.advance(seconds=600, new_runs_per_sync=0)  # the run is picked up and finishes
    done = hook.request("GET", f"syncs/{sync['id']}/runs", {"runId": run_id})[0]
    assert_parses_as_the_hook_reads_it(done)
    assert done["status"] in TERMINAL and done["finishedAt"] is not None
    assert hook.request("GET", f"syncs/{sync['id']}")["lastRunAt"] == done["startedAt"]

    pipeline.run(source_for(simulator))  # the source loads what the hook triggered, exactly
    assert_matches_truth(pipeline, world.ground_truth_runs())
    assert [r.method for r in simulator.requests].count("POST") == 3


def test_writes_other_than_triggers_are_refused(simulator: HightouchSimulator) -> None:
    url = f"{simulator.base_url}/api/v1/syncs/1001"
    answer = requests.delete(url, headers=HOOK_HEADERS, timeout=10)
    assert answer.status_code == 405
    missing = requests.post(
        f"{simulator.base_url}/api/v1/syncs/trigger", data={}, headers=HOOK_HEADERS, timeout=10
    )
    assert missing.status_code == 400
