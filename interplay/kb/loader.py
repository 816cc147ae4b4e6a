"""Load a knowledge base from YAML directories into one typed, integrity-checked :class:`KB`.

Every ``*.yaml`` file of a directory may hold any of the sections ``defenses``, ``risks``, ``factors``,
``nodes``, ``edges``, ``observations``, ``references``, ``contexts`` and ``combinations`` (each a list of objects). An
overlay directory adds objects to the base; reusing an id is an error, never a silent replacement.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import ComposerError
from yaml.reader import ReaderError

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


MAX_DEPTH = 100  # far deeper than any KB object; bounds the YAML composer's recursion


class _Loader(yaml.SafeLoader):
    """A SafeLoader (plain data, never arbitrary objects) that also refuses aliases and deep nesting, and records
    repeated mapping keys instead of letting the last one win silently."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.depth = 0
        self.duplicates: list[tuple[object, Any, Any]] = []  # (key, its mark, the first occurrence's mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):  # a few lines of aliases expand to gigabytes ("billion laughs")
            raise ComposerError(None, None, f"aliases (*{event.anchor}) are not allowed in KB files", event.start_mark)
        if self.depth >= MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        first: dict[Any, Any] = {}
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<: {...}`` is expanded by the base class
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # reported by the base class
            if key in first:
                self.duplicates.append((key, key_node.start_mark, first[key]))
            first.setdefault(key, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(text: str) -> tuple[Any, Any, list[tuple[object, Any, Any]]]:
    """The YAML node tree, the data and the repeated keys of ``text``; raise ``yaml.YAMLError``."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        return root, loader.construct_document(root) if root is not None else None, loader.duplicates
    finally:
        loader.dispose()


def _item_spans(root: Any) -> list[tuple[int, int, str]]:
    """(start, end, id) of every section entry (an item of a top-level list), in file order."""
    spans = []
    for _, section in root.value if isinstance(root, yaml.MappingNode) else ():
        for item in section.value if isinstance(section, yaml.SequenceNode) else ():
            if isinstance(item, yaml.MappingNode):
                ids = (v.value for k, v in item.value if k.value in ("id", "key") and isinstance(v, yaml.ScalarNode))
                spans.append((item.start_mark.index, item.end_mark.index, next(ids, "-")))
    return spans


def _read_file(path: Path, raw: _Raw) -> dict | None:
    """The file's mapping of sections, or None after recording, located, why there is none."""
    file, where = str(path), "-"
    try:
        if not path.is_file():  # a directory, a FIFO or a device would fail or hang on reading
            dangling = path.is_symlink() and not path.exists()
            raw.problems.append(Problem(file, "-", "-", "broken symbolic link" if dangling else "not a regular file"))
            return None
        data = path.read_bytes()
        text = data.decode("utf-8")
        root, doc, duplicates = _load_yaml(text)
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror or exc}"
    except UnicodeDecodeError as exc:
        where = "line " + str(data.count(b"\n", 0, exc.start) + 1)
        reason = f"not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})"
    except ReaderError as exc:
        where = "line " + str(text.count("\n", 0, exc.position) + 1)
        reason = f"malformed YAML: character {exc.character:#06x} is not allowed"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "-"
        said = [getattr(exc, "context", None), getattr(exc, "problem", None)]  # "while parsing ...", "found ..."
        reason = f"malformed YAML: {', '.join(filter(None, said)) or exc}"
    else:
        spans = _item_spans(root) if duplicates else []
        starts = [s[0] for s in spans]
        for key, mark, was in sorted(duplicates, key=lambda d: d[1].index):
            i = bisect.bisect_right(starts, mark.index) - 1
            oid = spans[i][2] if i >= 0 and mark.index < spans[i][1] else "-"
            reason = f"duplicate key at line {mark.line + 1} (first at line {was.line + 1})"
            raw.problems.append(Problem(file, oid, str(key), reason))
        if isinstance(doc, dict):
            return doc
        found = "empty file" if doc is None else f"the top level is a {type(doc).__name__}"
        reason = f"{found}: expected a mapping of sections ({', '.join(SECTIONS)})"
    raw.problems.append(Problem(file, "-", where, reason))
    return None


def _read_dir(directory: Path, raw: _Raw) -> None:
    try:
        reason = "" if directory.is_dir() else "not a directory" if directory.exists() else "no such directory"
        files = [] if reason else sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    except OSError as exc:
        reason = f"cannot read the directory: {exc.strerror or exc}"
    if reason:
        raw.problems.append(Problem(str(directory), "-", "-", reason))
        return
    if not files:
        raw.problems.append(Problem(str(directory), "-", "-", "no *.yaml files"))
    for path in files:
        doc = _read_file(path, raw)
        for section, items in (doc or {}).items():
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
    given = item.get(id_field) if isinstance(item, dict) else None
    oid = str(given) if isinstance(given, str | int) else f"{section}[{index}]"
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
