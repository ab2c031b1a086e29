"""SIGKILL during extract, normalize or load: the next run ends exact (the soak kills 30 times)."""

from pathlib import Path

from tests.crashing import crash_and_recover


def test_killed_runs_recover_exactly(tmp_path: Path) -> None:
    phases = crash_and_recover(tmp_path, seed=4, kills=3)
    assert phases.count("finished") < 3, phases  # at least one run was really killed
