"""Argument checks of the public API: :func:`checked` compares each argument of a call with its annotation before the
function runs, so a wrong type is an :class:`~interplay.errors.ArgumentError` that names the argument, never an
``AttributeError`` from deep inside. Torch-free.

What it checks: ``str``, ``int`` (not ``bool``), ``float`` (an int too), ``bool``, classes (``Path``, ``KB``),
``None``, unions, ``Mapping[K, V]`` (keys and values), ``Iterable[T]`` (the items of a list, tuple or set; an
iterator is left unconsumed), ``Callable`` and protocols (the methods they name). ``Any`` (and a union with it) and
names that cannot be resolved at run time (imported for type checking only) accept anything. Values are the
function's to check."""

from __future__ import annotations

import collections.abc as abc
import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from interplay.errors import ArgumentError

F = TypeVar("F", bound=Callable[..., Any])


def checked(fn: F) -> F:
    """``fn`` with its arguments checked against its annotations at every call (:class:`ArgumentError`)."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError(f"{fn.__name__}(): {exc}") from None
        hints = _hints(fn)
        for name, value in bound.arguments.items():
            tp = hints.get(name, Any)
            if not _matches(value, tp):
                raise ArgumentError(
                    f"{fn.__name__}(): {name} must be {_describe(tp)}, not {_short(value)} ({type(value).__name__})"
                )
        return fn(*args, **kwargs)

    wrapper.__checked__ = True  # type: ignore[attr-defined]
    return typing.cast(F, wrapper)


def is_checked(fn: Any) -> bool:
    """Whether ``fn`` is wrapped by :func:`checked`."""
    return bool(getattr(fn, "__checked__", False))


@functools.cache
def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Each parameter's annotation, resolved in ``fn``'s module (``Any`` where a name exists for type checking only)."""
    out: dict[str, Any] = {}
    for name, p in inspect.signature(fn).parameters.items():
        ann = p.annotation
        if isinstance(ann, str):
            try:
                ann = eval(ann, fn.__globals__)  # noqa: S307 - the function's own annotation, in its own module
            except NameError:
                ann = Any
        out[name] = Any if ann is inspect.Parameter.empty or Any in typing.get_args(ann) else ann
    return out


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any or tp is typing.Any:
        return True
    if tp is None or tp is type(None):
        return value is None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is abc.Callable or tp is abc.Callable:
        return callable(value)
    if origin in (abc.Mapping, dict):
        return isinstance(value, abc.Mapping) and all(
            _matches(k, args[0]) and _matches(v, args[1]) for k, v in value.items()
        )
    if origin in (abc.Iterable, abc.Sequence, list, tuple):
        if not isinstance(value, origin):
            return False
        items = value if isinstance(value, list | tuple | set | frozenset) else ()  # an iterator stays unconsumed
        return not args or all(_matches(v, args[0]) for v in items)
    if isinstance(tp, type) and getattr(tp, "_is_protocol", False):
        return all(callable(getattr(value, m, None)) for m in _protocol_methods(tp))
    return isinstance(tp, type) and isinstance(value, tp)


def _protocol_methods(tp: type) -> list[str]:
    return [m for m in vars(tp) if not m.startswith("_") and callable(vars(tp)[m])]


def _describe(tp: Any) -> str:
    if tp is None or tp is type(None):
        return "None"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        names = list(dict.fromkeys(_describe(a) for a in args))
        return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _describe(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]" if args else str(origin.__name__)
    return getattr(tp, "__name__", str(tp))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
