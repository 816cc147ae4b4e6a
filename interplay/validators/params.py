"""Plugin parameters: each plugin declares its own as a frozen dataclass of :func:`param` fields.

``--param slug.key=value`` (and a threat-model ``--context KEY=VALUE`` that a parameter declares) override a
default; every parameter of every plugin a validation uses enters its configuration hash. Torch-free.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import typing
from dataclasses import dataclass, field
from typing import Any

from interplay.errors import UsageError


class ParamError(UsageError, ValueError):
    """An unknown plugin or parameter, or a value of the wrong type (a usage error)."""


def param(
    default: Any,
    doc: str,
    *,
    choices: tuple[str, ...] | None = None,
    context: str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A plugin parameter: its default, a one-line doc, optionally the allowed values, numeric bounds (``ge``,
    ``gt``, ``le``, ``lt``; for a tuple, on each element) and the ``--context`` key that sets it (a threat-model
    qualifier shared with the reasoner). Floats must be finite whatever the bounds."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return field(default=default, metadata={"doc": doc, "choices": choices, "context": context, "bounds": bounds})


_BOUND_TEXT = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_BOUND_TEST = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}


def domain_text(f: dataclasses.Field) -> str:
    """The declared domain of a parameter as text, e.g. ``> 0 and <= 1`` (empty when it declares none)."""
    return " and ".join(f"{_BOUND_TEXT[k]} {v:g}" for k, v in f.metadata.get("bounds", {}).items())


def check_domain(f: dataclasses.Field, value: Any, where: str) -> None:
    """Raise :class:`ParamError` naming the parameter, the value and the domain when ``value`` lies outside it."""
    for v in value if isinstance(value, tuple) else (value,):
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise ParamError(f"{where}: {v!r} is not a finite number")
        if not all(_BOUND_TEST[k](v, bound) for k, bound in f.metadata.get("bounds", {}).items()):
            raise ParamError(f"{where}: {v!r} is outside the domain {domain_text(f)}")


def check_params(params: Any, where: str) -> None:
    """Raise :class:`ParamError` unless every field of ``params`` (a plugin's ``Params``) has its declared type
    (an int for a float), choice and domain; ``where`` names the plugin in the message."""
    hints = typing.get_type_hints(type(params))
    for f in fields_of(type(params)):
        value = getattr(params, f.name)
        typed = coerce(type(params), f.name, value, f"{where}.{f.name}")
        if typed != value or (type(typed) is not type(value) and not isinstance(typed, float)):
            raise ParamError(f"{where}.{f.name}: {value!r} is not a valid {_type_name(hints[f.name])}")


@dataclass(frozen=True)
class PluginParams:
    """The base of a plugin's ``Params``: constructing one checks every field (:func:`check_params`), so a plugin's
    own parameters built from Python meet the domain the command line enforces."""

    def __post_init__(self) -> None:
        check_params(self, type(self).__name__)


@dataclass(frozen=True)
class NoParams(PluginParams):
    """A plugin without parameters."""


def fields_of(params_cls: type) -> list[dataclasses.Field]:
    return list(dataclasses.fields(params_cls))


def describe(params_cls: type, defaults: dict[str, Any] | None = None) -> list[dict]:
    """One row per parameter: name, type, default (after per-dataset ``defaults``), doc, choices, context key."""
    hints = typing.get_type_hints(params_cls)
    rows = []
    for f in fields_of(params_cls):
        default = (defaults or {}).get(f.name, f.default)
        rows.append(
            {
                "name": f.name,
                "type": _type_name(hints[f.name]),
                "default": default,
                "doc": f.metadata["doc"],
                "choices": list(f.metadata["choices"]) if f.metadata["choices"] else None,
                "domain": domain_text(f) or None,
                "context": f.metadata["context"],
            }
        )
    return rows


def _type_name(tp: Any) -> str:
    name = None if typing.get_origin(tp) else getattr(tp, "__name__", None)
    return name or str(tp).replace("typing.", "")


def coerce(params_cls: type, name: str, value: Any, where: str) -> Any:
    """``value`` (a string from the command line, or already typed) as the type of parameter ``name``."""
    by_name = {f.name: f for f in fields_of(params_cls)}
    if name not in by_name:
        valid = ", ".join(by_name) or "none"
        raise ParamError(f"{where}: unknown parameter {name!r}; valid parameters: {valid}")
    f, tp = by_name[name], typing.get_type_hints(params_cls)[name]
    try:
        typed = _convert(tp, value)
    except (TypeError, ValueError):
        raise ParamError(f"{where}: {value!r} is not a valid {_type_name(tp)}") from None
    choices = f.metadata["choices"]
    if choices and typed not in choices:
        raise ParamError(f"{where}: {typed!r} is not one of {', '.join(choices)}")
    check_domain(f, typed, where)
    return typed


def _convert(tp: Any, value: Any) -> Any:
    if isinstance(value, bool) and tp is not bool:
        raise TypeError(value)
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        items = (
            tuple(_convert(args[0], v.strip()) for v in value.split(",") if v.strip())
            if isinstance(value, str)
            else _tuple(args[0], value)
        )
        if Ellipsis not in args and len(items) != len(args):
            raise ValueError(value)
        return items
    if not isinstance(value, str):
        if tp is float and isinstance(value, int):
            return float(value)
        if tp is type(value) or (isinstance(tp, type) and isinstance(value, tp)):
            return value
        raise TypeError(value)
    if tp is bool:
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise ValueError(value)
    if tp in (int, float, str):
        return tp(value)
    raise TypeError(value)


def _tuple(inner: Any, value: Any) -> tuple:
    if not isinstance(value, list | tuple):
        raise TypeError(value)
    return tuple(_convert(inner, v) for v in value)


def parse_assignments(items: list[str] | None) -> list[tuple[str, str, str]]:
    """``["slug.key=value", ...]`` as ``(slug, key, value)``; the plugin and key are checked by the registry."""
    out = []
    for item in items or []:
        target, sep, value = item.partition("=")
        slug, dot, key = target.strip().rpartition(".")
        if not sep or not dot or not slug or not key or not value.strip():
            raise ParamError(f"--param expects PLUGIN.KEY=VALUE (e.g. adversarial-training.eps=0.1), got {item!r}")
        out.append((slug, key, value.strip()))
    return out
