"""Load a knowledge base from YAML directories into one typed, integrity-checked :class:`KB`.

Every ``*.yaml`` file of a directory may hold any of the sections ``defenses``, ``risks``, ``factors``,
``nodes``, ``edges``, ``observations``, ``references``, ``contexts`` and ``combinations`` (each a list of objects). An
overlay directory adds objects to the base; reusing an id is an error, never a silent replacement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from interplay.kb.errors import KBError, Problem
from interplay.kb.integrity import check
from interplay.kb.model import KB
from interplay.kb.schema import (
    CombinationObservation,
    ContextKey,
    Defense,
    Edge,
    Factor,
    Node,
    Observation,
    Reference,
    Risk,
)

BUILTIN_DIR = Path(__file__).parent / "data"

SECTIONS: dict[str, type[BaseModel]] = {
    "defenses": Defense,
    "risks": Risk,
    "factors": Factor,
    "nodes": Node,
    "edges": Edge,
    "observations": Observation,
    "references": Reference,
    "contexts": ContextKey,
    "combinations": CombinationObservation,
}
_ID_FIELD = {"references": "key"}


@dataclass
class _Raw:
    objects: dict[str, list[tuple[str, BaseModel]]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    problems: list[Problem] = field(default_factory=list)


def _read_dir(directory: Path, raw: _Raw) -> None:
    if not directory.is_dir():
        raw.problems.append(Problem(str(directory), "-", "-", "not a directory"))
        return
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        raw.problems.append(Problem(str(directory), "-", "-", "no *.yaml files"))
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "-"
            raw.problems.append(Problem(str(path), "-", where, f"malformed YAML: {getattr(exc, 'problem', exc)}"))
            continue
        if not isinstance(doc, dict):
            raw.problems.append(Problem(str(path), "-", "-", "top level must be a mapping of sections"))
            continue
        for section, items in doc.items():
            if section not in SECTIONS:
                raw.problems.append(
                    Problem(str(path), "-", str(section), f"unknown section (expected one of {', '.join(SECTIONS)})")
                )
                continue
            if not isinstance(items, list):
                raw.problems.append(Problem(str(path), "-", section, "a section must be a list of objects"))
                continue
            for i, item in enumerate(items):
                _parse(path, section, i, item, raw)


def _parse(path: Path, section: str, index: int, item: object, raw: _Raw) -> None:
    id_field = _ID_FIELD.get(section, "id")
    oid = str(item.get(id_field, f"{section}[{index}]")) if isinstance(item, dict) else f"{section}[{index}]"
    if not isinstance(item, dict):
        raw.problems.append(Problem(str(path), oid, "-", "expected a mapping"))
        return
    try:
        raw.objects[section].append((str(path), SECTIONS[section].model_validate(item)))
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "-"
            raw.problems.append(Problem(str(path), oid, loc, err["msg"]))


def load_kb(kb_dir: str | Path | None = None, overlays: list[str | Path] | tuple = ()) -> KB:
    """Load the KB at ``kb_dir`` (default: the built-in one) plus overlays; raise :class:`KBError`."""
    raw = _Raw()
    for directory in [Path(kb_dir) if kb_dir else BUILTIN_DIR, *map(Path, overlays)]:
        _read_dir(directory, raw)
    if raw.problems:
        raise KBError(raw.problems)
    kb, problems = check(raw.objects)
    if problems:
        raise KBError(problems)
    return kb
