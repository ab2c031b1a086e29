"""The baseline: what a user would write for Census sync runs with dlt's generic ``rest_api``.

Page-number paging over the documented ``pagination`` envelope at the API's maximum page size,
a child resource per sync, merge on ``id``, dlt's default loader settings. No incremental:
``dlt.sources.incremental`` on a child resource keeps one cursor for all parents and drops rows
of other syncs (dlt-hub/dlt#2429), so a user re-reads every sync's whole history each run.
Child requests run in dlt's extract thread pool (``"parallelized": True``, documented for
rest_api resources), which a user who cares about speed would switch on.
"""

from typing import Any

from dlt.sources import DltSource
from dlt.sources.rest_api import rest_api_source

PAGE_SIZE = 100  # the API's maximum per_page


def baseline_source(base_url: str, token: str, parallelized: bool = True) -> DltSource:
    """A ``rest_api`` source with ``syncs`` and ``sync_runs`` (child of ``syncs``)."""
    paginator: dict[str, Any] = {
        "type": "page_number",
        "base_page": 1,
        "page_param": "page",
        "total_path": "pagination.last_page",
    }
    config: Any = {
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": token},
            "paginator": paginator,
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"data_selector": "data", "params": {"per_page": PAGE_SIZE}},
        },
        "resources": [
            {"name": "syncs", "endpoint": {"path": "syncs"}},
            {
                "name": "sync_runs",
                "parallelized": parallelized,
                "endpoint": {
                    "path": "syncs/{resources.syncs.id}/sync_runs",
                },
            },
        ],
    }
    return rest_api_source(config, name="census_baseline")
