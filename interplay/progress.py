"""Progress of long runs where the API is called from: a notebook cell's output, a terminal, else nothing.

:func:`default` is what an experiment function reports to when its caller passes no ``progress``: in a Jupyter
kernel a :class:`NotebookProgress`, which redraws one output of the running cell (an HTML ``<progress>`` bar with
the count and elapsed time; plain text where HTML is not shown) at most every :data:`INTERVAL` seconds; where
standard error is a terminal a :class:`TerminalProgress` (the rich bar the command line draws, gone once its
seeds are done); else None (a script piped to a file, a test: nothing is drawn).
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any

INTERVAL = 0.5  # seconds between redraws of a notebook's bar


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython is never imported to find out)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _Bar:
    """What a notebook shows: ``_repr_html_`` for the bar, ``repr`` for plain text."""

    def __init__(self, description: str, done: int, total: int, elapsed: float):
        self.description, self.done, self.total, self.elapsed = description, done, total, elapsed

    def __repr__(self) -> str:
        return f"{self.description}: {self.done}/{self.total} ({self.elapsed:.0f} s)"

    def _repr_html_(self) -> str:
        return (f'<div><progress value="{self.done}" max="{max(self.total, 1)}" style="width:24em"></progress> '
                f"{html.escape(repr(self))}</div>")  # fmt: skip


class NotebookProgress:
    """The API's progress sink as a bar in the running notebook cell's output."""

    def __init__(self) -> None:
        self.handle: Any = None
        self.description, self.done, self.total = "", 0, 0
        self.started = self.drawn = 0.0

    def start(self, total: int, description: str) -> None:
        from IPython.display import display

        self.description, self.done, self.total = description, 0, total
        self.started = time.monotonic()
        self.handle = display(self._bar(), display_id=True)
        self.drawn = self.started

    def advance(self, n: int = 1, description: str | None = None) -> None:
        self.done += n
        self.description = description or self.description
        now = time.monotonic()
        if self.handle is not None and (now - self.drawn >= INTERVAL or self.done >= self.total):
            self.handle.update(self._bar())
            self.drawn = now

    def _bar(self) -> _Bar:
        return _Bar(self.description, self.done, self.total, time.monotonic() - self.started)


def rich_bar(console: Any) -> Any:
    """The rich progress bar of long runs on ``console``: description, bar, done/total, elapsed; transient."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)  # fmt: skip


class TerminalProgress:
    """The API's progress sink as a rich bar on standard error that starts with the first task and stops (and
    clears itself) when every task is done."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.bar: Any = None
        self.task: Any = None

    def start(self, total: int, description: str) -> None:
        if self.bar is None:
            self.bar = rich_bar(self.console)
            self.bar.start()
        self.task = self.bar.add_task(description, total=total)

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self.bar is None:
            return
        self.bar.update(self.task, advance=n, **({} if description is None else {"description": description}))
        if self.bar.finished:
            self.bar.stop()
            self.bar = None


def default() -> NotebookProgress | TerminalProgress | None:
    """A notebook's progress bar inside a Jupyter kernel, a rich bar where stderr is a terminal, else None."""
    if in_notebook():
        return NotebookProgress()
    return TerminalProgress() if sys.stderr.isatty() else None
