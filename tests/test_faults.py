"""Injected faults of every kind end in exact tables: a fast subset of seeds (the soak has 50)."""

import dlt
import pytest

from census_simulator import ALL_ODD_KINDS
from tests.faulty import load_under_faults


@pytest.mark.parametrize("seed", [2, 8])  # seeds whose draws cover most fault kinds
def test_exact_tables_under_ten_percent_faults(seed: int, pipeline: dlt.Pipeline) -> None:
    injected = load_under_faults(seed, pipeline)
    assert sum(injected.values()) >= 3, injected  # the faults really happened


def test_exact_tables_under_faults_and_odd_values(pipeline: dlt.Pipeline) -> None:
    injected = load_under_faults(4, pipeline, odd_rate=0.1)
    odd = {kind for kind in injected if kind in ALL_ODD_KINDS}
    assert len(odd) >= 8, injected  # most kinds of odd value really were sent
