"""Ctrl-C and SIGTERM: stop, clear what cannot be used again, say in one line what was committed.

The first SIGINT or SIGTERM stops the command: at once during extract (nothing is committed
there), after the jobs already running during dlt's normalize and load (dlt drains them). A
second one stops the process at once, without cleaning up: the next run then recovers as after
a kill. Exit codes are 128 + the signal number, as a shell reports a process the signal ended:
130 for SIGINT, 143 for SIGTERM.
"""

import contextlib
import os
import signal
import sys
import traceback
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import dlt
from dlt.common.exceptions import SignalReceivedException
from dlt.common.pipeline import LoadInfo, NormalizeInfo, StepInfo
from dlt.common.runtime import signals as dlt_signals
from dlt.pipeline import trace as dlt_trace
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.exit_codes import ExitCode, causes
from pipelines.quiet_logs import QuietDltLogs
from pipelines.recovery import remove_partial_extracts

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODES: dict[int, ExitCode] = {
    signal.SIGINT: ExitCode.INTERRUPTED,
    signal.SIGTERM: ExitCode.TERMINATED,
}
STEPS = ("extract", "normalize", "load")
RUNS_TABLE = "sync_runs"  # every source's run table


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled like Ctrl-C (dlt wraps both the same way)."""


def interruption(error: BaseException) -> BaseException | None:
    """The KeyboardInterrupt (or SIGTERM) in `error` or what it wraps, None if there is none."""
    return next((cause for cause in causes(error) if isinstance(cause, KeyboardInterrupt)), None)


@dataclass
class _Progress:
    """What this process's pipeline steps did, as dlt's trace reports them."""

    pipeline: dlt.Pipeline | None = None
    unfinished: str | None = None  # the last step that started and did not end normally
    runs_normalized: dict[str, int] = field(default_factory=dict)  # load id -> sync_runs rows
    committed: list[str] = field(default_factory=list)  # load ids this process loaded

    def runs_committed(self) -> int:
        return sum(self.runs_normalized.get(load_id, 0) for load_id in self.committed)


class Interrupts:
    """Signal handlers for one CLI command, and the report of an interruption.

    dlt's normalize and load steps take the first signal themselves and drain their jobs; if
    the step then ends normally anyway (it was on its last job), the stop happens right after
    it. The wakeup file descriptor tells which signals arrived while dlt's handlers were in
    place. The instance follows the steps as a dlt tracking module (dlt.pipeline.trace).
    """

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self.signal: int | None = None
        self.progress = _Progress()
        self._logs = None if debug else QuietDltLogs(self.stopping)
        self._previous: dict[int, Any] = {}
        self._wakeup: tuple[int, int] | None = None
        self._previous_wakeup = -1

    def stopping(self) -> bool:
        """Whether a signal asked the command to stop (dlt's handlers or ours took it)."""
        return self.signal is not None or dlt_signals.was_signal_received()

    def install(self) -> None:
        """Take SIGINT and SIGTERM (main thread only), follow dlt's steps, quiet dlt's logs."""
        dlt_trace.TRACKING_MODULES.append(self)
        if self._logs:
            self._logs.install()
        try:
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            read_end, write_end = os.pipe()
            os.set_blocking(read_end, False)
            os.set_blocking(write_end, False)
            self._wakeup = (read_end, write_end)
            self._previous_wakeup = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        except ValueError:  # not the main thread (an embedding caller): dlt's own handling
            self._previous.clear()

    def uninstall(self) -> None:
        """Give the signals back, unless the command was interrupted: then a second signal
        during the interpreter's exit (joining threads) still stops it at once."""
        if self in dlt_trace.TRACKING_MODULES:
            dlt_trace.TRACKING_MODULES.remove(self)
        if self._logs:
            self._logs.uninstall()
        if self.signal is not None or not self._previous:
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_wakeup)
        if self._wakeup:
            for fd in self._wakeup:
                os.close(fd)
        self._wakeup = None

    def report(self, error: BaseException) -> int:
        """Clear a partial extract, print the one line, return the exit code (130 or 143)."""
        self._note_signal(error)
        failed = next((c for c in causes(error) if isinstance(c, PipelineStepFailed)), None)
        pipeline = failed.pipeline if failed is not None else self.progress.pipeline
        if isinstance(failed, PipelineStepFailed) and failed.step == "extract" and failed.load_id:
            remove_partial_extracts(failed.pipeline, failed.load_id)  # type: ignore[arg-type]
        step = failed.step if failed is not None else self.progress.unfinished
        if self.debug:
            traceback.print_exception(error)
        print(f"syncruns: {self._describe(pipeline, step)}", file=sys.stderr)
        return int(EXIT_CODES.get(self.signal or signal.SIGINT, ExitCode.INTERRUPTED))

    def _describe(self, pipeline: Any, step: str | None) -> str:
        """What the interruption left: a kept package, a committed load, or nothing."""
        done = self.progress.runs_committed()
        before = f"{done:,} runs loaded before it were committed"
        if pipeline is not None and _has_pending_data(pipeline):
            where = step if step in ("normalize", "load") else "load"
            kept = (
                f"interrupted during {where}: the load package is kept and the next run finishes it"
            )
            return f"{kept}; {before}" if self.progress.committed else kept
        if step == "extract":
            if self.progress.committed:
                return f"interrupted during extract: {before}; the next run goes on from there"
            return (
                "interrupted during extract: nothing was committed; "
                "the next run starts from the same cursors"
            )
        if self.progress.committed:
            return f"interrupted after the load was committed: {done:,} runs loaded"
        return "interrupted: nothing was committed"

    # ------------------------------------------------------------ signals
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping():
            self._force_quit(signum)
        self.signal = signum
        raise _interrupt(signum)

    def _force_quit(self, signum: int) -> None:
        message = (
            "syncruns: interrupted again: stopped at once, without cleaning up; "
            "the next run finishes or redoes what this one left\n"
        )
        with contextlib.suppress(OSError, ValueError):
            os.write(sys.stderr.fileno(), message.encode())
        os._exit(int(EXIT_CODES.get(self.signal or signum, ExitCode.INTERRUPTED)))

    def _arrived(self) -> list[int]:
        """Signals that arrived since the last look (from the wakeup pipe)."""
        if not self._wakeup:
            return []
        arrived = b""
        while True:
            try:
                chunk = os.read(self._wakeup[0], 512)
            except BlockingIOError:
                break
            if not chunk:
                break
            arrived += chunk
        return [number for number in arrived if number in SIGNALS]

    def _note_signal(self, error: BaseException) -> None:
        for signum in self._arrived():
            self.signal = self.signal or signum
        if self.signal is None:
            cause = interruption(error)
            if isinstance(cause, SignalReceivedException) and cause.signal_code in EXIT_CODES:
                self.signal = cause.signal_code
            else:
                self.signal = signal.SIGTERM if isinstance(cause, Terminated) else signal.SIGINT

    # ------------------------------------------- dlt tracking module protocol
    def on_start_trace(self, trace: Any, step: str, pipeline: Any) -> None:
        self.progress.pipeline = pipeline

    def on_start_trace_step(self, trace: Any, step: str, pipeline: Any) -> None:
        if step in STEPS:
            self._arrived()  # older signals were acted on already
            self.progress.pipeline = pipeline
            self.progress.unfinished = step

    def on_end_trace_step(
        self, trace: Any, step: Any, pipeline: Any, step_info: Any, send_state: bool
    ) -> None:
        if step.step not in STEPS:
            return
        if isinstance(step_info, NormalizeInfo):
            for load_id, metrics in step_info.metrics.items():
                tables = metrics[-1]["table_metrics"] if metrics else {}
                if RUNS_TABLE in tables:
                    self.progress.runs_normalized[load_id] = tables[RUNS_TABLE].items_count
        if isinstance(step_info, LoadInfo):
            for package in step_info.load_packages:
                if package.state == "loaded" and package.load_id not in self.progress.committed:
                    self.progress.committed.append(package.load_id)
        ended_normally = step.step_exception is None and isinstance(step_info, StepInfo)
        if ended_normally:
            self.progress.unfinished = None
        arrived = self._arrived()  # what dlt's handlers took while the step ran
        if arrived and self.signal is None:
            self.signal = arrived[0]
            if ended_normally:  # dlt was on its last job: it finished and did not stop
                raise _interrupt(self.signal)

    def on_end_trace(self, trace: Any, pipeline: Any, send_state: bool) -> None:
        return None


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _has_pending_data(pipeline: Any) -> bool:
    try:
        return bool(pipeline.has_pending_data)
    except Exception:  # the working folder is gone or unreadable: nothing to say about it
        return False
