"""The plugin registries, keyed by the KB's canonical slugs.

A defense or risk probe registers itself with ``@register_defense(slug)`` / ``@register_risk(slug)``. The
registries fill on first use: every module of :mod:`interplay.validators.defenses` and
:mod:`interplay.validators.risks`, then the modules third-party plugins name (:mod:`interplay.extensions`).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

from interplay.errors import UsageError
from interplay.extensions import validator_modules
from interplay.validators.params import ParamError, coerce, describe

T = TypeVar("T")
BUILTIN_PACKAGES = ("interplay.validators.defenses", "interplay.validators.risks")


class Registry(MutableMapping[str, Any]):
    """A slug -> plugin class mapping that imports the plugin modules the first time it is read."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def _ensure(self) -> dict[str, Any]:
        load_plugins()
        return self._items

    def add(self, slug: str, cls: Any) -> None:
        other = self._items.get(slug)
        if other is not None and other.__qualname__ != cls.__qualname__:
            raise ValueError(f"two {self.kind} plugins for {slug!r}: {other.__module__} and {cls.__module__}")
        self._items[slug] = cls

    def __getitem__(self, slug: str) -> Any:
        return self._ensure()[slug]

    def __setitem__(self, slug: str, cls: Any) -> None:
        self._ensure()[slug] = cls

    def __delitem__(self, slug: str) -> None:
        del self._ensure()[slug]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ensure())

    def __len__(self) -> int:
        return len(self._ensure())


DEFENSES = Registry("defense")
RISKS = Registry("risk")
_loaded = False


def _register(registry: Registry, slug: str) -> Callable[[T], T]:
    def decorate(cls: T) -> T:
        cls.slug = slug  # type: ignore[attr-defined]
        registry.add(slug, cls)
        return cls

    return decorate


def register_defense(slug: str) -> Callable[[T], T]:
    """Class decorator: register a :class:`~interplay.validators.defenses.base.DefensePlugin` under the KB slug."""
    return _register(DEFENSES, slug)


def register_risk(slug: str) -> Callable[[T], T]:
    """Class decorator: register a :class:`~interplay.validators.risks.base.RiskProbe` under the KB slug."""
    return _register(RISKS, slug)


def load_plugins() -> None:
    """Import the built-in plugin modules and those of installed third-party plugins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package in BUILTIN_PACKAGES:
        path = importlib.import_module(package).__path__
        for info in pkgutil.iter_modules(path):
            if info.name != "base":
                importlib.import_module(f"{package}.{info.name}")
    for module in validator_modules():
        importlib.import_module(module)


class UnregisteredPair(UsageError, LookupError):
    """A defense or risk that the KB knows but no validator plugin implements."""


def check_pair(defense: str, risk: str) -> None:
    """Raise :class:`UnregisteredPair` unless both slugs have a plugin."""
    missing = [
        f"{kind} {slug!r}"
        for kind, slug, table in (("defense", defense, DEFENSES), ("risk", risk, RISKS))
        if slug not in table
    ]
    if missing:
        raise UnregisteredPair(
            f"no validator plugin for {' and '.join(missing)}; registered defenses: {', '.join(DEFENSES)}; "
            f"registered risks: {', '.join(RISKS)}"
        )


class UnknownMetric(UsageError, LookupError):
    """A primary metric the risk's probe does not report."""


def check_metric(risk: str, metric: str | None) -> None:
    """Raise :class:`UnknownMetric` unless ``metric`` is None, the probe's score or one of its declared ``metrics``."""
    probe = RISKS[risk]
    if metric is not None and metric != probe.metric and metric not in probe.metrics:
        raise UnknownMetric(
            f"{risk} reports no metric {metric!r}; choose from {', '.join([probe.metric, *probe.metrics])}"
        )


def plugin(slug: str) -> Any:
    """The defense or risk plugin class registered under ``slug``."""
    if slug in DEFENSES:
        return DEFENSES[slug]
    if slug in RISKS:
        return RISKS[slug]
    raise ParamError(f"--param: no plugin {slug!r}; plugins: {', '.join([*DEFENSES, *RISKS])}")


def source_digest(cls: type) -> str:
    """A digest of the source file of a plugin class (a changed plugin never reuses stale results)."""
    path = inspect.getsourcefile(cls)
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12] if path else "unknown"


def overrides(
    assignments: list[tuple[str, str, str]],
    context: dict[str, str] | None = None,
) -> tuple[tuple[str, str, Any], ...]:
    """Checked, typed ``(slug, key, value)`` overrides from ``--param`` assignments and threat-model context
    keys that a plugin parameter declares (``param(..., context=KEY)``); other context keys concern only
    the reasoner. Raises :class:`ParamError` naming the valid plugins, parameters or values."""
    out: dict[tuple[str, str], Any] = {}
    for key, value in (context or {}).items():
        for slug, cls in [*DEFENSES.items(), *RISKS.items()]:
            for row in describe(cls.Params):
                if row["context"] == key:
                    out[slug, row["name"]] = coerce(cls.Params, row["name"], value, f"--context {key}")
    for slug, key, value in assignments:
        out[slug, key] = coerce(plugin(slug).Params, key, value, f"--param {slug}.{key}")
    return tuple((slug, key, value) for (slug, key), value in sorted(out.items()))


def catalogue() -> list[dict]:
    """Every registered plugin with its parameters and defaults (per dataset where they differ)."""
    rows = []
    for kind, table in (("defense", DEFENSES), ("risk", RISKS)):
        for slug, cls in table.items():
            doc = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
            rows.append(
                {
                    "kind": kind,
                    "slug": slug,
                    "module": cls.__module__,
                    "doc": doc,
                    "params": describe(cls.Params),
                    "dataset_defaults": cls.dataset_defaults,
                    "needs": list(cls.needs),
                    **(
                        {"metric": cls.metric, "chance": cls.chance, "reads": sorted(cls.observables_read())}
                        if kind == "risk"
                        else {}
                    ),
                }
            )
    return rows
