"""Benchmark the quantitative paths: the linear path model's predicted effects against the validated ones.

Over every validated cell in the store (``--store``, default: the validators' default store): the graph
prediction's paths, their coefficients from the store (``measure`` effects on defense -> factor edges, sweep
slopes on the other edges; :mod:`interplay.interactions.path_effects`), the predicted effect beside the observed
one; then the sign accuracy and Spearman rank correlation over the cells with a quantified prediction. Where the
store cannot quantify any path (sweeps that record no slope), it says so. Always runs the synthetic check that
the combination recovers known effects where the model's assumptions hold. Usage:

    .venv/bin/python benchmarks/bench_mediation.py [--store PATH] [--cells N]
"""

from __future__ import annotations

import argparse

from scipy.stats import spearmanr

from interplay.interactions.path_effects import coefficients, predicted_effect, synthetic_check
from interplay.interactions.reasoner import predict
from interplay.interactions.validated import load_validations
from interplay.kb import load_kb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="results store (default: the validators' default store)")
    parser.add_argument("--cells", type=int, default=40, help="synthetic cells")
    args = parser.parse_args()
    kb, layer = load_kb(), load_validations(args.store)
    coefs = coefficients(layer)
    kinds = {c.source.split()[0] for c in coefs.values()}
    print(f"store {layer.source or '(none)'}: {len(layer.cells)} validated cells, {len(coefs)} edges with a "
          f"coefficient ({', '.join(sorted(kinds)) or 'none'})")  # fmt: skip
    pairs = []
    for (d, r), rec in sorted(layer.cells.items()):
        if d not in kb.defenses or r not in kb.risks or "difference" not in rec.effect:
            continue
        p = predicted_effect(predict(kb, d, r).paths, coefs)
        if p["estimate"] is not None:
            pairs.append((p["estimate"], float(rec.effect["difference"])))
            print(f"  {d} -> {r}: predicted {p['estimate']:+.4f} {p['ci95']}, observed {rec.effect['difference']:+.4f}")
    if len(pairs) >= 2:
        signs = sum((x > 0) == (y > 0) for x, y in pairs) / len(pairs)
        rho = spearmanr([x for x, _ in pairs], [y for _, y in pairs])[0]
        print(f"validated cells quantified: {len(pairs)}; sign accuracy {signs:.3f}; Spearman rho {rho:.3f}")
    else:
        print(f"validated cells quantified: {len(pairs)}; too few to score. The store has no sweep slopes on factor -> "
              "risk edges (sweeps record a rank correlation against the knob, not a slope in the factor's units), "
              "so no path is quantified end to end.")  # fmt: skip
    s = synthetic_check(args.cells)
    print(f"synthetic check ({s['cells']} linear models, two mediators each): sign accuracy "
          f"{s['sign_accuracy']:.3f}, Spearman rho {s['spearman']:.3f}, 95% interval covers the true effect "
          f"{s['interval_coverage']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
