"""Errors of the knowledge base: every problem located by file, object id and field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One integrity problem, located by file, object id and field."""

    file: str
    object_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.object_id}: {self.field}: {self.reason}"


class KBError(Exception):
    """The knowledge base is malformed; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
