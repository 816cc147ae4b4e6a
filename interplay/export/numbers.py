"""Numbers for people: the HTML report, its plots and the LaTeX export round; data formats (JSON, GraphML,
GEXF, CSV) keep full precision.

``p_value``: two significant digits (``0.0031``, ``0.012``, ``4.2e-09``); ``decimal``: effects, scores,
confidences and weights to three decimals. Anything that is not a number (``"?"``, None) comes back as ``str``.
"""

from __future__ import annotations

from typing import TypeGuard


def _number(x: object) -> TypeGuard[int | float]:
    return isinstance(x, int | float) and not isinstance(x, bool)


def p_value(x: object) -> str:
    """A p-value to two significant digits: ``0.0123456789`` -> ``0.012``, ``4.2e-09`` -> ``4.2e-09``."""
    return f"{x:.2g}" if _number(x) else str(x)


def decimal(x: object, signed: bool = False) -> str:
    """An effect or score to three decimals (``+0.080`` when ``signed``); no ``-0.000``."""
    if not _number(x):
        return str(x)
    v = 0.0 if round(x, 3) == 0 else float(x)
    return f"{v:+.3f}" if signed else f"{v:.3f}"
