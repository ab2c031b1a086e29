"""The soak: 50 seeds at 10 % faults of every kind and 5 % odd values (slow: run by .ci/run)."""

from collections import Counter
from pathlib import Path

import dlt
import pytest

from census_simulator import ALL_ODD_KINDS
from tests.faulty import load_under_faults

SEEDS = range(1, 51)
TOTAL: Counter[str] = Counter()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_soak_exact_tables_under_faults(seed: int, tmp_path: Path) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"soak_{seed}",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "soak.duckdb")),
        dataset_name="census",
    )
    TOTAL.update(load_under_faults(seed, pipeline, concurrency=1 + seed % 8, odd_rate=0.05))
    if seed == SEEDS[-1]:
        print(f"\nfaults injected over {len(SEEDS)} seeds: {dict(sorted(TOTAL.items()))}")
        assert set(TOTAL) >= {"500", "502", "503", "504", "429", "reset", "slow", "html", "empty"}
        assert set(TOTAL) >= set(ALL_ODD_KINDS)  # and every kind of odd value
