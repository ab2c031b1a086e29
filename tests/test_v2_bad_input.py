"""Bad v2 settings and Census's refusals through the real `syncruns` script: one line, the
documented exit code, no harm to the pipeline state or the data (as tests/test_bad_input.py)."""

import json
import shutil

import pytest

from census_simulator import Response
from census_simulator.v2 import GROUP_ID_MISSING, v1_retired
from tests import test_bad_input as bad
from tests.conftest import TOKEN
from tests.scripted import Scripted

lab = bad.lab  # the module's good load, restored before each case
V2 = "run --api-version v2 --base-url {root}/api/v2"
V2_ENV = bad.token(bad.V2_TOKEN)


def every_request(response: Response) -> list[Scripted]:
    return [Scripted(lambda entry: True, response, None)]


def env(**settings: object) -> dict[str, str | None]:
    values = {
        f"SOURCES__CENSUS__{key.upper()}": json.dumps(value) for key, value in settings.items()
    }
    return {**V2_ENV, **values}


CASES = [
    bad.case(
        "v1-retired-410",
        "run",
        bad.BAD_INPUT,
        "Census API v1 is retired: Census answered 410",
        "sources.census.api_version = 'v2'",
        script=lambda: every_request(v1_retired(410)),
    ),
    bad.case(
        "v1-retired-401-is-not-a-bad-token",
        "run",
        bad.BAD_INPUT,
        "Census API v1 is retired: Census answered 401",
        "personal access token",
        script=lambda: every_request(v1_retired(401)),
    ),
    bad.case(
        "v2-group-id-required",
        V2,
        bad.BAD_INPUT,
        "needs a group id for GET /syncs page 1",
        "sources.census.group_id",
        "Destination Group ID",
        env=V2_ENV,
        script=bad.on_syncs_list(GROUP_ID_MISSING),
    ),
    bad.case(
        "v2-sync-list-moved",
        V2,
        bad.BAD_INPUT,
        "404 on GET /syncs page 1",
        "sources.census.v2_paths.syncs",
        env=V2_ENV,
        script=bad.on_syncs_list(Response(404, b'{"status": 404}')),
    ),
    bad.case(
        "v2-paths-unknown-endpoint",
        V2,
        bad.BAD_INPUT,
        "sources.census.v2_paths has no endpoint 'runs'",
        env=env(v2_paths={"runs": "/r"}),
    ),
    bad.case(
        "v2-paths-missing-placeholder",
        V2,
        bad.BAD_INPUT,
        "sources.census.v2_paths.sync_runs must hold {sync_id}",
        env=env(v2_paths={"sync_runs": "/activation_syncs/runs"}),
    ),
    bad.case(
        "v2-paths-on-v1",
        "run",
        bad.BAD_INPUT,
        "sources.census.v2_paths applies only to API v2",
        env={"SOURCES__CENSUS__V2_PATHS": json.dumps({"syncs": "/activation_syncs"})},
    ),
    bad.case(
        "v2-group-ids-bad",
        V2,
        bad.BAD_INPUT,
        "sources.census.group_ids 'b c' is not a valid",
        env=env(group_ids=["a", "b c"]),
    ),
    bad.case(
        "v2-group-id-and-group-ids",
        f"{V2} --group-id a",
        bad.BAD_INPUT,
        "sources.census.group_ids and --group-id are both set",
        env=env(group_ids=["b"]),
    ),
    bad.case(
        "repeated-group-id-on-v1",
        "run --group-id a --group-id b",
        bad.BAD_INPUT,
        "--group-id applies only to API v2",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_bad_v2_input_fails_cleanly_and_touches_nothing(lab: bad.Lab, case: bad.Case) -> None:
    shutil.rmtree(lab.work)
    shutil.copytree(lab.pristine, lab.work)
    before = bad.snapshot(lab.work)
    lab.sim.script = case.script() if case.script else []
    try:
        result = bad.run_cli(bad.expand(case.args, lab.sim, case.with_url), lab.work, case.env)
    finally:
        lab.sim.script = []
    after = bad.snapshot(lab.work)

    assert result.returncode == case.code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("syncruns: error: "), result.stderr
    for fragment in case.says:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert TOKEN not in result.stderr and bad.V2_TOKEN not in result.stderr
    assert after == before, bad._difference(before, after)
