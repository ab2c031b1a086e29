"""One writing command at a time per pipeline: a file lock beside dlt's pipeline folder.

Two `run`s of one pipeline would read the same cursors and load the same runs twice (or one
fails on DuckDB's lock after a while); the second one now stops at once with one line.
"""

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dlt.common.pipeline import get_dlt_pipelines_dir
from filelock import FileLock, Timeout


class PipelineBusyError(Exception):
    """Another syncruns command holds this pipeline's lock."""


def lock_path(pipeline_name: str) -> Path:
    """The lock file of a pipeline (a file, so dlt does not list it as a pipeline)."""
    return Path(get_dlt_pipelines_dir()) / f"{pipeline_name}.lock"


@contextmanager
def pipeline_lock(pipeline_name: str, command: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the pipeline's lock for the block; wait up to `wait_s` seconds for it.

    The lock is the operating system's (flock): a killed holder releases it at once.
    """
    path = lock_path(pipeline_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = path.with_name(path.name + ".holder")
    lock = FileLock(path, timeout=wait_s)
    try:
        lock.acquire()
    except Timeout:
        raise PipelineBusyError(
            f"pipeline {pipeline_name!r} is busy: {_describe(holder)} holds it"
            + (f" (waited {wait_s:g} s)" if wait_s else "")
            + ": let it finish, or add --wait SECONDS to queue behind it"
        ) from None
    try:
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        holder.write_text(json.dumps({"pid": os.getpid(), "command": command, "since": started}))
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


def _describe(holder: Path) -> str:
    """`syncruns run (pid 42, since ...)` from the holder file, or a plain phrase without it."""
    for _ in range(20):  # the holder writes it right after taking the lock
        try:
            info = json.loads(holder.read_text())
            return f"syncruns {info['command']} (pid {info['pid']}, since {info['since']})"
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    return "another syncruns command"
