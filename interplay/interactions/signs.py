"""The sign algebra of qualitative probabilistic networks (Wellman 1990).

Signs are ``+``, ``-``, ``0`` and ``?``. The product combines signs along a path (``0`` annihilates,
``?`` absorbs everything but ``0``); the sum combines parallel paths (``0`` is the identity, ``?``
absorbs, and ``+`` with ``-`` is the conflict ``?``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from typing import Literal

Sign = Literal["+", "-", "0", "?"]
SIGNS: tuple[Sign, ...] = ("+", "-", "0", "?")

FROM_WORD: dict[str, Sign] = {"increases": "+", "decreases": "-", "none": "0", "mixed": "?"}
DIRECTION: dict[Sign, str] = {"+": "increase", "-": "decrease", "0": "none", "?": "ambiguous"}


def product(a: Sign, b: Sign) -> Sign:
    if a == "0" or b == "0":
        return "0"
    if a == "?" or b == "?":
        return "?"
    return "+" if a == b else "-"


def add(a: Sign, b: Sign) -> Sign:
    if a == "0":
        return b
    if b == "0":
        return a
    if a == "?" or b == "?" or a != b:
        return "?"
    return a


def path_sign(signs: Iterable[Sign]) -> Sign:
    """Product along a path (the empty path is the identity ``+``)."""
    return reduce(product, signs, "+")


def total(signs: Iterable[Sign]) -> Sign:
    """Sum across parallel paths (no path at all is ``0``)."""
    return reduce(add, signs, "0")
