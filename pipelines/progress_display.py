"""Where progress lines go: one line redrawn in place on a terminal, else plain lines."""

import os
from typing import Protocol, TextIO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from pipelines.progress_snapshot import Snapshot

TERMINAL_PERIOD_S = 0.5


class Display(Protocol):
    """Where snapshots go: `show` every `period` seconds, `finish` once when a step ends."""

    period: float

    def show(self, snapshot: Snapshot) -> None:
        """Show how the step is going."""

    def finish(self, snapshot: Snapshot) -> None:
        """Show the step's last line."""


class PlainLines:
    """A line per snapshot: for log files and schedulers, which keep every line."""

    def __init__(self, stream: TextIO, period: float) -> None:
        self.stream = stream
        self.period = period

    def show(self, snapshot: Snapshot) -> None:
        """Write the snapshot's line."""
        self.stream.write(snapshot.line() + "\n")
        self.stream.flush()

    finish = show


class TerminalLine:
    """One line redrawn in place (rich's Live display), with a bar of the syncs done."""

    period = TERMINAL_PERIOD_S

    def __init__(self, stream: TextIO) -> None:
        self._console = Console(file=stream, highlight=False)
        self._live: Live | None = None

    def show(self, snapshot: Snapshot) -> None:
        """Redraw the line."""
        if self._live is None:
            self._live = Live(
                console=self._console,
                auto_refresh=False,
                redirect_stdout=False,  # the CLI's own output is written after the load
                redirect_stderr=False,
            )
            self._live.start()
        self._live.update(_render(snapshot), refresh=True)

    def finish(self, snapshot: Snapshot) -> None:
        """Leave the step's last line on the screen."""
        self.show(snapshot)
        if self._live is not None:
            self._live.stop()
            self._live = None


def display_for(stream: TextIO, period: float) -> Display:
    """A line in place on a terminal, else plain lines every `period` seconds."""
    terminal = stream.isatty() and os.environ.get("TERM", "") != "dumb"
    return TerminalLine(stream) if terminal else PlainLines(stream, period)


def _render(snapshot: Snapshot) -> RenderableType:
    text = Text(snapshot.line(), no_wrap=True, overflow="ellipsis")
    syncs = snapshot.syncs
    if syncs is None or not syncs.total:
        return text
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=syncs.total, completed=syncs.count, width=20), text)
    return grid
