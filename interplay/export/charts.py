"""Figures of results for a paper, drawn with matplotlib (``interplay export heatmap|forest|sweep``).

- :func:`heatmap`: the defense x risk matrix in three panels: the literature's direction, the prediction, and the
  observed effect (colour: defended minus baseline in units of the cell's smallest effect of interest, clipped to
  +-2) with the verdict marked (check confirmed, cross refuted, ? inconclusive, empty set not applicable);
- :func:`forest`: one cell's per-seed paired differences, their mean with the 95% CI, zero and the band of the
  smallest effect of interest;
- :func:`sweep_curves`: a factor sweep: both arms' risk score and the effect with its CI against the factor;
- :func:`risk_coverage`: a selective predictor's risk (error rate among the answered) against its coverage, from
  records of ``confidence`` (None: abstained) and ``correct``, one per prediction, the most confident answered
  first.

Colours are Okabe-Ito (colour-blind safe; increase vermillion, decrease bluish green, as every graph writer draws
them, :mod:`.style`); each cell also carries a glyph, so the figures read in greyscale. Sizes fit a two-column
paper: :data:`COLUMN` inches for one column, :data:`FULL` for the page width, 7 pt text. matplotlib is imported
when a figure is drawn; :func:`save` writes PNG, PDF or SVG without leaving a partial file.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interplay.export.escape import matplotlib as esc
from interplay.export.style import SIGN_COLOR

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from interplay.export.model import ExportModel

COLUMN, FULL = 3.4, 7.0  # inches: one column and the full width of a two-column paper
SUFFIXES = (".png", ".pdf", ".svg")
DPI = 300
INCREASE, DECREASE = SIGN_COLOR["increases"], SIGN_COLOR["decreases"]
NONE, MIXED, BLUE, EMPTY = "#BBBBBB", SIGN_COLOR["mixed"], "#0072B2", "#F2F2F2"
DIRECTION_COLOR = {"increase": INCREASE, "decrease": DECREASE, "none": NONE, "mixed": MIXED, "ambiguous": MIXED}
DIRECTION_GLYPH = {"increase": "↑", "decrease": "↓", "none": "○", "mixed": "±", "ambiguous": "↕", "unknown": "?"}
VERDICT_GLYPH = {"confirmed": "✓", "refuted": "✗", "inconclusive": "?", "not-applicable": "∅"}
CLIP = 2.0  # the observed panel's colour scale: +-2 smallest effects of interest


STYLE = {"font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6.5, "ytick.labelsize": 6.5,
         "legend.fontsize": 6.5, "svg.fonttype": "none", "pdf.fonttype": 42}  # fmt: skip


def _styled() -> Any:
    """matplotlib's settings for a figure of :data:`STYLE` (7 pt text; fonts kept as text in SVG and PDF)."""
    import matplotlib

    return matplotlib.rc_context(STYLE)  # type: ignore[arg-type]  # its keys are typed as literals


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def _rgb(hex_color: str) -> tuple[float, float, float]:
    return tuple(int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def _effect_color(scaled: float) -> tuple[float, float, float]:
    """White at zero, toward vermillion (increase) or bluish green (decrease) with ``|scaled|`` (0..1)."""
    target = _rgb(INCREASE if scaled > 0 else DECREASE)
    t = min(1.0, abs(scaled))
    return tuple(1 - t * (1 - c) for c in target)  # type: ignore[return-value]


def _title(text: str) -> str:
    """``text`` escaped for matplotlib line by line (its line breaks kept)."""
    return "\n".join(esc(line) for line in text.split("\n"))


def _grid(ax: Axes, colors: list[list[Any]], glyphs: list[list[str]], title: str, rows: list[str], cols: list[str],
          show_rows: bool) -> None:  # fmt: skip
    ax.imshow(colors, aspect="auto", interpolation="nearest")
    for i, line in enumerate(glyphs):
        for j, g in enumerate(line):
            if g:
                ax.text(j, i, g, ha="center", va="center", fontsize=7, color="#111111")
    ax.set_xticks(range(len(cols)), [esc(c) for c in cols], rotation=90)
    ax.set_yticks(range(len(rows)), [esc(r) for r in rows] if show_rows else [])
    ax.set_xticks([x - 0.5 for x in range(1, len(cols))], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, len(rows))], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.2)
    ax.tick_params(which="both", length=0)
    ax.set_title(_title(title))
    for side in ax.spines.values():
        side.set_visible(False)


def observed_scale(effect: Mapping[str, Any] | None) -> float | None:
    """The observed effect in units of its smallest effect of interest, clipped to +-1 of :data:`CLIP`; None
    when the record has no finite difference and smallest effect."""
    if not effect:
        return None
    diff, smallest = effect.get("difference"), effect.get("min_effect")
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (diff, smallest)) or not smallest:
        return None
    return max(-1.0, min(1.0, float(diff) / abs(float(smallest)) / CLIP))  # type: ignore[arg-type]


def heatmap(model: ExportModel, status: Sequence[Mapping[str, Any]]) -> Figure:
    """The matrix of ``model``'s defenses and risks from their ``status`` records (:func:`~interplay.interactions.
    status.cell_status`): literature, prediction and observed effect with the verdict."""
    from interplay.export.latex import ordered_risks

    by_cell = {(s["defense"], s["risk"]): s for s in status}
    risks = [r for _, rs in ordered_risks(model) for r in rs]
    rows, cols = [model.node(d).short for d in model.defenses], [model.node(r).short for r in risks]
    cells = [[by_cell[d, r] for r in risks] for d in model.defenses]

    def direction(key: Any) -> tuple[list[list[Any]], list[list[str]]]:
        words = [[key(s) or "unexplored" for s in line] for line in cells]
        return ([[_rgb(DIRECTION_COLOR.get(w, EMPTY)) for w in line] for line in words],
                [[DIRECTION_GLYPH.get(w, "") for w in line] for line in words])  # fmt: skip

    observed_colors, verdicts = [], []
    for line in cells:
        scaled = [observed_scale((s.get("validation") or {}).get("effect")) for s in line]
        observed_colors.append([_rgb(EMPTY) if x is None else _effect_color(x) for x in scaled])
        verdicts.append([VERDICT_GLYPH.get(s["verdict"], "") for s in line])
    with _styled():
        fig, axes = _figure(FULL, 1.3 + 0.2 * len(rows), 3)
        _grid(axes[0], *direction(lambda s: s["literature"]), "literature", rows, cols, True)
        _grid(axes[1], *direction(lambda s: s["prediction"]), f"prediction ({model.method})", rows, cols, False)
        _grid(axes[2], observed_colors, verdicts, "observed effect, verdict", rows, cols, False)
        _effect_bar(fig, axes[2])
        fig.supxlabel("↑ increase  ↓ decrease  ○ none  ↕ ambiguous  ? unknown; light grey: none reported or not "
                      "validated;  ✓ confirmed  ✗ refuted  ? inconclusive  ∅ not applicable", fontsize=6,
                      color="#333333")  # fmt: skip
    return fig


def _effect_bar(fig: Figure, ax: Axes) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    steps = [_effect_color(x / 50) for x in range(-50, 51)]
    bar = fig.colorbar(ScalarMappable(Normalize(-CLIP, CLIP), ListedColormap(steps)), ax=ax, shrink=0.8, pad=0.02)
    bar.set_label("defended − baseline\n(smallest effects of interest)", fontsize=6)
    bar.ax.tick_params(labelsize=6)


def forest(seeds: Sequence[Mapping[str, Any]], effect: Mapping[str, Any], title: str) -> Figure:
    """Per-seed differences (records with ``seed`` and ``difference``), their mean and 95% CI from ``effect``
    (its ``difference``, ``ci95``, ``min_effect``, ``metric``), zero and the +-smallest-effect band."""
    with _styled():
        fig, (ax,) = _figure(COLUMN, 1.3 + 0.13 * (len(seeds) + 2))
        smallest = abs(effect.get("min_effect") or 0.0)
        if smallest:
            ax.axvspan(-smallest, smallest, color=NONE, alpha=0.35, lw=0, label="smallest effect of interest")
        ax.axvline(0, color="#555555", lw=0.8)
        ys = list(range(len(seeds), 0, -1))
        ax.plot([s["difference"] for s in seeds], ys, "o", ms=3.5, color=BLUE, label="seed")
        lo, hi = effect["ci95"]
        ax.errorbar([effect["difference"]], [-0.5], xerr=[[effect["difference"] - lo], [hi - effect["difference"]]],
                    fmt="D", ms=5, color="#000000", capsize=3, lw=1.2, label="mean, 95% CI")  # fmt: skip
        ax.set_yticks([*ys, -0.5], [*(f"seed {s['seed']}" for s in seeds), "mean"])
        ax.set_ylim(-1.3, len(seeds) + 0.7)
        ax.set_xlabel(esc(f"defended − baseline ({effect.get('metric', 'score')})"))
        ax.set_title(_title(title))
        fig.legend(loc="outside lower center", ncol=3, frameon=False, handletextpad=0.3)
    return fig


def sweep_curves(doc: Mapping[str, Any]) -> Figure:
    """A sweep document (``interplay sweep --json``): both arms' risk score, and the effect with its 95% CI,
    against the factor's values."""
    points = doc["points"]
    values = [str(p["value"]) for p in points]
    eff = [p["effect"] for p in points]
    with _styled():
        fig, (a, b) = _figure(FULL / 1.4, 2.2, 2)
        a.plot(values, [e["baseline"] for e in eff], "o-", color=NONE, mec="#555555", label="baseline", ms=3.5)
        a.plot(values, [e["defended"] for e in eff], "s-", color=BLUE, label=esc(doc["defense"]), ms=3.5)
        knob = f"{doc['factor']} ({doc.get('knob', '')})"
        a.set(xlabel=esc(knob), ylabel=esc(f"{doc['risk']} ({eff[0].get('metric', 'score')})"))
        a.set_title(esc(f"KB claims {doc['claim']['direction']}; sweep {doc['verdict']}"))
        a.legend(frameon=False)
        mid = [e["difference"] for e in eff]
        low, high = (
            [m - e["ci95"][0] for m, e in zip(mid, eff, strict=True)],
            [e["ci95"][1] - m for m, e in zip(mid, eff, strict=True)],
        )
        bands = [abs(e.get("min_effect") or 0.0) for e in eff]
        if any(bands):
            b.fill_between(values, [-x for x in bands], bands, color=NONE, alpha=0.35, lw=0, step="mid")
        b.errorbar(values, mid, yerr=[low, high], fmt="D-", capsize=3, ms=3.5, color="#000000", lw=1)
        b.axhline(0, color="#555555", lw=0.8)
        b.set(xlabel=esc(knob), ylabel="defended − baseline (95% CI)")
        grey = "\ngrey: smallest effect of interest" if any(bands) else ""
        b.set_title(_title(f"effect of {doc['defense']}{grey}"))
    return fig


def selective_points(records: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """(coverage, risk) after answering the ``k`` most confident records, for every ``k``; ties in confidence
    are answered together (a threshold cannot split them). A record whose ``confidence`` is None is an abstention
    (e.g. an ambiguous prediction): never answered, but counted in the coverage's denominator."""
    ranked = sorted((r for r in records if r["confidence"] is not None), key=lambda r: -float(r["confidence"]))
    points, wrong = [], 0
    for k, r in enumerate(ranked, 1):
        wrong += not r["correct"]
        if k == len(ranked) or float(ranked[k]["confidence"]) != float(r["confidence"]):
            points.append((k / len(records), wrong / k))
    return points


def risk_coverage(curves: Mapping[str, Sequence[Mapping[str, Any]]], title: str = "risk-coverage") -> Figure:
    """One risk-coverage curve per name in ``curves`` (records with ``confidence`` and ``correct``)."""
    colors = [BLUE, INCREASE, DECREASE, MIXED, "#E69F00", "#56B4E9"]
    markers = "osD^v<"
    with _styled():
        fig, (ax,) = _figure(COLUMN, 2.3)
        for i, (name, records) in enumerate(curves.items()):
            xs, ys = zip(*selective_points(records), strict=True) if records else ((), ())
            ax.step(xs, ys, where="post", color=colors[i % 6], lw=1.2)
            ax.plot(xs, ys, markers[i % 6], color=colors[i % 6], ms=3, label=esc(f"{name} (n={len(records)})"))
        ax.set(xlim=(0, 1.02), ylim=(0, None), xlabel="coverage (share of cells answered)",
               ylabel="risk (error rate among answered)")  # fmt: skip
        ax.set_title(_title(title))
        ax.legend(frameon=False)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (.png, .pdf or .svg) through a temporary file beside it, so a failed write
    leaves nothing behind; raises :class:`OSError` when the folder cannot be written."""
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")  # opened like any new file (the umask applies)
    try:
        with open(tmp, "xb") as f:
            fig.savefig(f, format=fmt, dpi=DPI, metadata=_metadata(fmt))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def data_uri(fig: Figure, dpi: int = 110) -> str:
    """``fig`` as a PNG data URI (for the self-contained HTML report)."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _metadata(fmt: str) -> dict[str, Any] | None:
    """No creation date in PDF and SVG (so a figure is the same file when its data are)."""
    return {"CreationDate": None} if fmt == "pdf" else {"Date": None} if fmt == "svg" else None
