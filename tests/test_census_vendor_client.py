"""Census: the simulator answers the requests of the vendor's own Airflow provider.

`airflow-provider-census` 2.1.0 (`hooks/census.py`) sends, with `Authorization: Bearer <token>`:
`GET api/v1/syncs?page=1&per_page=1` to test a connection (and wants `"status": "success"`),
`GET api/v1/sync_runs/{id}` for a run (it reads `data.status`, and its sensor `data.error_message`;
`completed` ends the wait, `failed` fails it). The requests are replayed here byte for byte.
"""

import requests

from census_simulator import CensusSimulator, World
from census_source.settings import TERMINAL_STATUSES
from tests.conftest import TOKEN

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def test_connection_check_of_the_airflow_hook() -> None:
    with CensusSimulator(World(seed=3), token=TOKEN) as sim:
        response = requests.get(f"{sim.root_url}/api/v1/syncs?page=1&per_page=1", headers=HEADERS)
    response.raise_for_status()
    payload = response.json()
    assert payload.get("status") == "success"
    assert len(payload["data"]) == 1


def test_get_sync_run_info_of_the_airflow_hook() -> None:
    world = World(seed=3)
    with CensusSimulator(world, token=TOKEN) as sim:
        for run in world.ground_truth_runs()[:50]:
            response = requests.get(f"{sim.root_url}/api/v1/sync_runs/{run['id']}", headers=HEADERS)
            response.raise_for_status()
            data = response.json()["data"]
            assert data["id"] == run["id"]
            assert data["status"] in {"working", "completed", "failed", "skipped", "queued"}
            if data["status"] == "failed":
                assert "error_message" in data
        missing = requests.get(f"{sim.root_url}/api/v1/sync_runs/1", headers=HEADERS)
    assert missing.status_code == 404


def test_the_clients_terminal_statuses_are_terminal_here() -> None:
    # the provider stops waiting on completed and failed; the docs add skipped (never runs)
    assert {"completed", "failed"} <= TERMINAL_STATUSES
    assert "queued" not in TERMINAL_STATUSES and "working" not in TERMINAL_STATUSES
