"""Progress of long runs where the API is called from: a notebook cell's output, else nothing (the command line
draws its own bar on the terminal, :class:`interplay.cli.common.ProgressBar`).

:func:`default` is what an experiment function reports to when its caller passes no ``progress``: in a Jupyter
kernel a :class:`NotebookProgress`, which redraws one output of the running cell (an HTML ``<progress>`` bar with
the count and elapsed time; plain text where HTML is not shown), at most every :data:`INTERVAL` seconds.
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


def default() -> NotebookProgress | None:
    """A notebook's progress bar inside a Jupyter kernel, else None (report nothing)."""
    return NotebookProgress() if in_notebook() else None
