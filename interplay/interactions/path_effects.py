"""Quantitative paths: a predicted effect size of a defense on a risk through its mediators.

The linear path model of mediation analysis (the product-of-coefficients method): along a path
``defense -> f1 -> ... -> risk`` the effect is the product of its edges' coefficients, and the predicted effect
is the sum over the paths. The coefficients are what the validators measure:

* ``defense -> factor``: the defense's paired effect on the factor (``interplay measure``: defended minus
  baseline, its 95% CI), in the units of the factor's estimator;
* ``factor -> factor`` and ``factor -> risk``: a slope of the next node on the factor with its 95% CI, where a
  factor sweep records one (``effect.slope`` and ``effect.ci95`` on the edge, in the estimator's units of the
  factor and the risk's score). Sweeps that record a rank correlation only (``rho``) give no slope.

A path is *quantified* when every edge has a coefficient; the prediction sums the quantified paths and lists
the rest. The interval is a Monte Carlo interval (coefficients drawn independently from normals whose standard
error is the CI's half-width / 1.96; MacKinnon, Lockwood and Williams 2004), percentiles 2.5 and 97.5.

Assumptions (say them whenever the number is used): every effect is linear and additive (no interaction between
mediators, no moderation by the defense); the coefficients are unconfounded and estimated on the same data,
model and regime as the cell; their errors are independent; the KB's paths are the only routes (no direct or
unmodelled path), and a path with an unmeasured edge contributes nothing. Torch-free; numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from interplay.interactions.paths import SignedPath
from interplay.interactions.validated import Validations

Z95 = 1.959963984540054
DRAWS = 4000
ASSUMPTIONS = (
    "linear, additive effects (no interaction between mediators)",
    "unconfounded coefficients, estimated under the cell's data, model and regime",
    "independent estimation errors",
    "the KB's paths are the only routes; unquantified paths contribute nothing",
)


@dataclass(frozen=True)
class Coefficient:
    """One edge's coefficient: its estimate, standard error and where it was measured."""

    estimate: float
    se: float
    source: str

    @classmethod
    def from_effect(cls, effect: Mapping, key: str, source: str) -> Coefficient | None:
        """From an effect record with ``key`` (``difference`` or ``slope``) and ``ci95``; None when absent."""
        try:
            value, (lo, hi) = float(effect[key]), effect["ci95"]
            se = (float(hi) - float(lo)) / (2 * Z95)
        except (KeyError, TypeError, ValueError):
            return None
        return cls(value, se, source) if np.isfinite(value) and np.isfinite(se) else None


def coefficients(validations: Validations | None) -> dict[str, Coefficient]:
    """Edge id -> coefficient from the store: measured defense -> factor effects and sweep slopes."""
    out: dict[str, Coefficient] = {}
    if validations is None:
        return out
    for kind, records, key in (
        ("measure", validations.measurements, "difference"),
        ("sweep", validations.sweeps, "slope"),
    ):
        for edge, marks in records.items():
            found = [c for m in marks if (c := Coefficient.from_effect(m.effect, key, f"{kind} {m.config_hash}"))]
            if found:
                out[edge] = min(found, key=lambda c: c.se)  # the most precise record
    return out


def predicted_effect(paths: Sequence[SignedPath], coefs: Mapping[str, Coefficient], seed: int = 0) -> dict:
    """The linear path model's predicted effect over ``paths`` (see the module docstring); ``estimate`` and
    ``ci95`` are None when no path is quantified."""
    rng = np.random.default_rng(seed)
    rows, total, draws = [], 0.0, np.zeros(DRAWS)
    for p in paths:
        missing = [e.id for e in p.edges if e.id not in coefs]
        row: dict = {"nodes": p.nodes, "edges": [e.id for e in p.edges], "sign": p.sign, "quantified": not missing,
                     "missing": missing}  # fmt: skip
        if not missing:
            cs = [coefs[e.id] for e in p.edges]
            row["estimate"] = float(np.prod([c.estimate for c in cs]))
            row["coefficients"] = {e.id: {"estimate": c.estimate, "se": c.se, "source": c.source}
                                   for e, c in zip(p.edges, cs, strict=True)}  # fmt: skip
            total += row["estimate"]
            draws += np.prod([rng.normal(c.estimate, c.se, DRAWS) for c in cs], axis=0)
        rows.append(row)
    quantified = sum(r["quantified"] for r in rows)
    ci = [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))] if quantified else None
    return {
        "estimate": total if quantified else None,
        "ci95": ci,
        "quantified": quantified,
        "paths": rows,
        "model": "linear path model (product of coefficients), Monte Carlo 95% interval",
        "assumptions": list(ASSUMPTIONS),
    }


def compare(predicted: dict, observed: Mapping) -> dict:
    """A predicted effect beside the observed one (the validation's ``effect``): both, and whether signs agree."""
    est, diff = predicted.get("estimate"), observed.get("difference")
    same = None if est is None or diff is None or est == 0 or diff == 0 else (est > 0) == (diff > 0)
    return {"predicted": est, "predicted_ci95": predicted.get("ci95"), "observed": diff,
            "observed_ci95": observed.get("ci95"), "same_sign": same}  # fmt: skip


def _synthetic_cell(rng: np.random.Generator, n: int) -> tuple[dict, float, float]:
    """One linear model defense -> f0, f1 -> risk: (the path model's prediction, the observed effect, the true one)."""
    from interplay.interactions.paths import PathEdge

    a, b = rng.normal(0, 1, 2), rng.normal(0, 1, 2)
    base, defended = rng.normal(0, 1, (2, n)), a[:, None] + rng.normal(0, 1, (2, n))
    swept = rng.uniform(-2, 2, (2, n))  # the factors set by a knob, the baseline's risk read at each setting
    design = np.c_[swept.T, np.ones(n)]
    y = b @ swept + rng.normal(0, 1, n)
    slopes, *_ = np.linalg.lstsq(design, y, rcond=None)
    cov = np.linalg.inv(design.T @ design) * float(np.sum((y - design @ slopes) ** 2)) / (n - 3)
    coefs: dict[str, Coefficient] = {}
    paths = []
    for k in range(2):
        diff = defended[k] - base[k]
        coefs[f"d-f{k}"] = Coefficient(float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n)), "synthetic")
        coefs[f"f{k}-r"] = Coefficient(float(slopes[k]), float(np.sqrt(cov[k, k])), "synthetic")
        edges = (PathEdge(f"d-f{k}", "d", f"f{k}", "increases", 1.0, ()),
                 PathEdge(f"f{k}-r", f"f{k}", "r", "increases", 1.0, ()))  # fmt: skip
        paths.append(SignedPath(edges, "+", 1.0, True))
    risk = lambda f: b @ f + rng.normal(0, 1, n)  # noqa: E731
    observed = float(risk(defended).mean() - risk(base).mean())
    return predicted_effect(paths, coefs, seed=int(rng.integers(1 << 31))), observed, float(a @ b)


def synthetic_check(cells: int = 40, n: int = 400, seed: int = 0) -> dict:
    """Is the combination right where its assumptions hold? Simulate ``cells`` linear models defense -> two
    factors -> risk with known coefficients; estimate each defense -> factor effect as a difference of means (as
    ``measure`` does) and each factor -> risk slope by least squares on a sweep of the factor in the baseline arm
    (as a sweep would); combine them along the two paths. Returns the sign accuracy and Spearman rank correlation of
    predicted vs observed (difference of mean risk, defended minus baseline) effects, and how often the 95%
    interval covers the true effect."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    runs = [_synthetic_cell(rng, n) for _ in range(cells)]
    predicted, observed = [p["estimate"] for p, _, _ in runs], [o for _, o, _ in runs]
    covered = sum(p["ci95"][0] <= truth <= p["ci95"][1] for p, _, truth in runs)
    signs = sum((x > 0) == (y > 0) for x, y in zip(predicted, observed, strict=True))
    rho = float(spearmanr(predicted, observed)[0])
    return {"cells": cells, "sign_accuracy": signs / cells, "spearman": rho, "interval_coverage": covered / cells}
