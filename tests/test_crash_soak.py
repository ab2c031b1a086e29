"""The crash soak: 30 SIGKILLs at random moments across seeds (slow: run by .ci/run)."""

from collections import Counter
from pathlib import Path

import pytest

from tests.crashing import crash_and_recover

SEEDS = range(1, 7)
PHASES: Counter[str] = Counter()


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_crash_soak(seed: int, tmp_path: Path) -> None:
    PHASES.update(crash_and_recover(tmp_path, seed=seed, kills=6))
    if seed == SEEDS[-1]:
        print(f"\nkills by interrupted step over {len(SEEDS)} seeds: {dict(PHASES)}")
        assert sum(PHASES.values()) - PHASES["finished"] >= 30
        assert PHASES["extract"] and PHASES["normalize"] and PHASES["load"]
