"""Third-party plugins: packages that declare an entry point in the group ``interplay.plugins``.

The entry point names a torch-free object (usually the package's ``__init__`` module) that may define
``KB_OVERLAY`` (a KB directory whose entities and edges are added to the built-in KB), ``VALIDATORS`` (the
names of the modules that register defenses and risk probes with ``@register_defense``/``@register_risk``) and
``MODELS`` (model factories by name, ``factory(input_shape, n_classes) -> nn.Module``, used as ``--model NAME``;
a factory imports torch when called, so the object stays torch-free). See docs/plugins.md.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

GROUP = "interplay.plugins"


class PluginLoadError(RuntimeError):
    """An entry point of the ``interplay.plugins`` group that cannot be loaded."""


@functools.cache
def _loaded() -> tuple[tuple[str, Any], ...]:
    out = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            out.append((ep.name, ep.load()))
        except Exception as exc:  # any error in third-party code: name the plugin, never a bare traceback
            raise PluginLoadError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
    return tuple(out)


def kb_overlays() -> list[Path]:
    """The KB overlay directories the installed plugins declare."""
    return [Path(obj.KB_OVERLAY) for _, obj in _loaded() if getattr(obj, "KB_OVERLAY", None)]


def validator_modules() -> list[str]:
    """The modules the installed plugins ask to import so that their defenses and probes register."""
    return [m for _, obj in _loaded() for m in getattr(obj, "VALIDATORS", ())]


def models() -> dict[str, Any]:
    """The model factories the installed plugins export (``MODELS``), by name; a name two plugins export is an error."""
    out: dict[str, Any] = {}
    for plugin, obj in _loaded():
        for name, factory in dict(getattr(obj, "MODELS", None) or {}).items():
            if name in out and out[name] is not factory:
                raise PluginLoadError(f"plugin {plugin!r} exports a model {name!r} that another plugin exports too")
            out[str(name)] = factory
    return out


def installed() -> list[str]:
    """The names of the installed plugins."""
    return [name for name, _ in _loaded()]
