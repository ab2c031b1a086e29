"""A full disk (or quota): which folder filled up and what happens next, in one line.

Three places fill up: the pipeline's working folder under DLT_DATA_DIR (extract and normalize
write there), the DuckDB file (its WAL and data), and DuckDB's temp folder (where it spills
beyond --duckdb-memory-limit; `<file>.tmp` by default).
"""

import errno
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.pipeline.exceptions import PipelineStepFailed

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_NO_SPACE_TEXT = ("no space left on device", "disk quota exceeded")
# DuckDB checks its temp folder's free space before spilling and reports it as out of memory
_TEMP_FOLDER_FULL = ("failed to offload data block", "max_temp_directory_size")
_QUOTED_PATH = re.compile(r"\"(/[^\"]+)\"|'(/[^']+)'")


def mentions_no_space(text: str) -> bool:
    """Whether an error text says a device or a quota is full."""
    lowered = text.lower()
    return any(marker in lowered for marker in _NO_SPACE_TEXT) or all(
        marker in lowered for marker in _TEMP_FOLDER_FULL
    )


def no_space_cause(chain: Iterator[BaseException]) -> BaseException | None:
    """The error of `chain` that says a device is full: an OSError with ENOSPC/EDQUOT first,
    else the innermost error whose text says so (DuckDB's, or dlt's retry message)."""
    found = None
    for cause in chain:
        if isinstance(cause, OSError) and cause.errno in NO_SPACE_ERRNOS:
            return cause
        if mentions_no_space(str(cause)):
            found = cause
    return found


def no_space_message(
    cause: BaseException, step_failed: PipelineStepFailed | None, duckdb_path: str | None
) -> str:
    """One line: what filled up (the path), what to do, and what the next run does."""
    working_dir = _working_dir(step_failed)
    path = _path_of(cause)
    text = str(cause).lower()
    if all(marker in text for marker in _TEMP_FOLDER_FULL) or _is_duckdb_temp(path, duckdb_path):
        folder = str(Path(path).parent) if path else f"{duckdb_path or '<file>'}.tmp"
        what = f"DuckDB's temp folder {folder!r} (DuckDB spills there beyond --duckdb-memory-limit)"
    elif path and duckdb_path and Path(path).name.startswith(Path(duckdb_path).name):
        log = path.endswith(".wal")  # DuckDB's write-ahead log beside the file
        what = f"the DuckDB file {path.removesuffix('.wal')!r}" + (" (its .wal)" if log else "")
    elif path and working_dir and _inside(path, working_dir):
        what = f"the pipeline's working folder {working_dir!r} (under DLT_DATA_DIR)"
    elif path and _inside(path, _data_dir()):
        what = f"DLT_DATA_DIR {_data_dir()!r} (writing {path!r})"
    elif path:
        what = repr(path)
    elif step_failed is not None and step_failed.step == "load" and duckdb_path:
        what = f"the DuckDB file {duckdb_path!r}"
    elif working_dir:
        what = f"the pipeline's working folder {working_dir!r} (under DLT_DATA_DIR)"
    else:
        what = f"DLT_DATA_DIR {_data_dir()!r}"
    return (
        f"no space left on the device of {what}: free space there, then run again; "
        f"{_next_run(step_failed)}"
    )


def _next_run(step_failed: PipelineStepFailed | None) -> str:
    if step_failed is not None and step_failed.has_pending_data:
        return "the load package is kept and the next run finishes it"
    return "nothing was committed and the next run starts from the same cursors"


def _working_dir(step_failed: PipelineStepFailed | None) -> str | None:
    pipeline: Any = getattr(step_failed, "pipeline", None)
    return str(pipeline.working_dir) if pipeline is not None else None


def _path_of(cause: BaseException) -> str | None:
    """The file the failed write named (OSError.filename, or the quoted path in the text)."""
    if isinstance(cause, OSError) and cause.filename:
        return str(cause.filename)
    match = _QUOTED_PATH.search(str(cause))
    return (match.group(1) or match.group(2)) if match else None


def _is_duckdb_temp(path: str | None, duckdb_path: str | None) -> bool:
    if not path:
        return False
    if Path(path).name.startswith("duckdb_temp"):
        return True
    return bool(duckdb_path) and Path(path).parent.name == f"{Path(str(duckdb_path)).name}.tmp"


def _data_dir() -> str:
    """dlt's data folder (DLT_DATA_DIR, else its default), which holds `pipelines/`."""
    return str(Path(get_dlt_pipelines_dir()).parent)


def _inside(path: str, folder: str) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())
