"""What a plugin needs from the data, checked on a task before anything is trained.

A risk probe or a defense declares ``needs`` (names of :data:`NEEDS`); constructing it on a task that lacks one
raises :class:`ProbeUnsupported` saying what is missing, so ``validate`` exits 2 and ``validate --all`` records the
cell as ``unsupported`` before any model is trained.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from interplay.errors import UsageError
from interplay.validators.data import Task
from interplay.validators.triggers import N_TABULAR


class ProbeUnsupported(UsageError, ValueError):
    """The probe (or defense) cannot run on this task (e.g. a fairness metric on a multi-class task)."""


def _binary(task: Task) -> str | None:
    return None if task.n_classes == 2 else f"a binary task; {task.name} has {task.n_classes} classes"


def _sensitive(task: Task) -> str | None:
    return None if task.has_sensitive else f"a sensitive attribute (--sensitive COL); {task.name} has none"


def _trigger(task: Task) -> str | None:
    n = math.prod(task.input_shape)
    if len(task.input_shape) == 3 or n >= N_TABULAR:
        return None
    return f"an image or at least {N_TABULAR} input attributes for its trigger; {task.name} has {n}"


# Each need: what it asks of the task, as the reason it is missing (None when the task has it).
NEEDS: dict[str, Callable[[Task], str | None]] = {"binary": _binary, "sensitive": _sensitive, "trigger": _trigger}


def check_needs(slug: str, needs: Iterable[str], task: Task) -> None:
    """Raise :class:`ProbeUnsupported` naming the first of ``needs`` that ``task`` does not meet."""
    for need in needs:
        missing = NEEDS[need](task)
        if missing is not None:
            raise ProbeUnsupported(f"{slug} needs {missing}")
