"""Small inline SVG plots of one validation, for the HTML report (no scripts, no fonts, no network).

``seeds_plot``: the risk score of the baseline and the defended model per seed, a line per seed and the mean
in bold; ``effect_plot``: the paired difference (defended minus baseline) with its 95% CI, zero and the
+-``min_effect`` band.
"""

from __future__ import annotations

import math

from interplay.export.escape import xml as esc
from interplay.export.numbers import decimal
from interplay.export.style import SIGN_COLOR
from interplay.interactions.validated import ValidationRecord

INK, MUTED = "#333333", "#999999"


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{esc(label)}" font-family="sans-serif" font-size="10">'
        f"<title>{esc(label)}</title>{''.join(body)}</svg>"
    )


def _finite(*values: object) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def seeds_plot(v: ValidationRecord, width: int = 230, height: int = 150) -> str:
    """Baseline vs defended risk score per seed (empty string when the store kept no per-seed scores)."""
    scores = [(s, b, d) for s, b, d in v.seed_scores if _finite(b, d)]
    if not scores:
        return ""
    lo = min(min(b, d) for _, b, d in scores)
    hi = max(max(b, d) for _, b, d in scores)
    pad = (hi - lo) * 0.1 or 0.05
    lo, hi = lo - pad, hi + pad
    top, bottom, x0, x1 = 12, height - 24, 60, width - 40

    def y(value: float) -> float:
        return bottom - (value - lo) / (hi - lo) * (bottom - top)

    body = [
        f'<line x1="{x0 - 12}" y1="{top}" x2="{x0 - 12}" y2="{bottom}" stroke="{MUTED}"/>',
        f'<text x="{x0 - 16}" y="{top + 4}" text-anchor="end">{decimal(hi)}</text>',
        f'<text x="{x0 - 16}" y="{bottom}" text-anchor="end">{decimal(lo)}</text>',
        f'<text x="{x0}" y="{height - 8}" text-anchor="middle">baseline</text>',
        f'<text x="{x1}" y="{height - 8}" text-anchor="middle">defended</text>',
    ]
    for seed, b, d in scores:
        color = SIGN_COLOR["increases"] if d > b else SIGN_COLOR["decreases"]
        body.append(
            f'<line x1="{x0}" y1="{y(b):.1f}" x2="{x1}" y2="{y(d):.1f}" stroke="{color}" stroke-opacity="0.55">'
            f"<title>seed {seed}: {decimal(b)} -&gt; {decimal(d)}</title></line>"
        )
        body += [f'<circle cx="{x}" cy="{y(s):.1f}" r="2.5" fill="{color}"/>' for x, s in ((x0, b), (x1, d))]
    mb = sum(b for _, b, _ in scores) / len(scores)
    md = sum(d for _, _, d in scores) / len(scores)
    body.append(f'<line x1="{x0}" y1="{y(mb):.1f}" x2="{x1}" y2="{y(md):.1f}" stroke="{INK}" stroke-width="2.5"/>')
    metric = v.effect.get("metric", "risk score")
    return _svg(width, height, f"{metric} per seed, baseline vs defended ({len(scores)} seeds)", body)


def effect_plot(v: ValidationRecord, width: int = 230, height: int = 56) -> str:
    """The mean paired difference with its 95% CI against zero and the minimum effect (empty when unknown)."""
    e = v.effect
    diff, ci, min_effect = e.get("difference"), e.get("ci95") or [None, None], e.get("min_effect") or 0.0
    if diff is None or not _finite(diff, *ci, min_effect):
        return ""
    span = max(abs(ci[0]), abs(ci[1]), abs(diff), min_effect, 1e-9) * 1.15
    left, right, mid = 10, width - 10, height / 2 - 4

    def x(value: float) -> float:
        return left + (value + span) / (2 * span) * (right - left)

    color = {"increase": SIGN_COLOR["increases"], "decrease": SIGN_COLOR["decreases"]}.get(v.observed, INK)
    body = [
        f'<rect x="{x(-min_effect):.1f}" y="{mid - 12}" width="{x(min_effect) - x(-min_effect):.1f}" height="24" '
        f'fill="#EEEEEE"><title>|difference| below the minimum effect {decimal(min_effect)}</title></rect>',
        f'<line x1="{x(0):.1f}" y1="{mid - 14}" x2="{x(0):.1f}" y2="{mid + 14}" stroke="{MUTED}"/>',
        f'<line x1="{x(ci[0]):.1f}" y1="{mid}" x2="{x(ci[1]):.1f}" y2="{mid}" stroke="{color}" stroke-width="3"/>',
        f'<circle cx="{x(diff):.1f}" cy="{mid}" r="4" fill="{color}"/>',
        f'<text x="{left}" y="{height - 3}">{decimal(-span, True)}</text>',
        f'<text x="{x(0):.1f}" y="{height - 3}" text-anchor="middle">0</text>',
        f'<text x="{right}" y="{height - 3}" text-anchor="end">{decimal(span, True)}</text>',
    ]
    label = f"defended minus baseline {decimal(diff, True)}, 95% CI [{decimal(ci[0], True)}, {decimal(ci[1], True)}]"
    return _svg(width, height, label, body)
