"""Benchmark ``interplay measure``: every defense's factors at default settings, against the KB's Table 2 arrows.

For each defense, times the paired measurement (8 seeds by default; target: 2 minutes per defense on two cores)
and prints, per measured factor, the KB's sign of the defense -> factor edge, the observed direction (BH across
the defense's factors) and the verdict; then the counts (confirms, contradicts, inconclusive, no KB edge) and
leave-one-paper-out of the graph method with the literature alone and with the measured evidence added. Usage:

    .venv/bin/python benchmarks/bench_measure.py [--dataset D] [--seeds N] [--preset P]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from interplay.interactions.evaluate import leave_one_paper_out
from interplay.interactions.validated import load_validations
from interplay.kb import load_kb
from interplay.validators.measure import MeasureConfig, factor_edges, run_measure
from interplay.validators.registry import DEFENSES
from interplay.validators.settings import SEEDS, default_settings
from interplay.validators.store import ResultStore

TARGET_S = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seeds", type=int)
    args = parser.parse_args()
    kb, settings = load_kb(), default_settings(args.dataset, args.preset)
    seeds = args.seeds or SEEDS[args.preset]
    counts: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(tmp) / "measure.sqlite")
        print(f"{'defense':22} {'factor':30} {'KB':10} {'observed':9} {'difference':>11} {'q':>8} verdict")
        for defense in DEFENSES:
            start = time.perf_counter()
            doc = run_measure(MeasureConfig(defense, settings), seeds, factor_edges(kb.edges, defense), store)
            wall = time.perf_counter() - start
            for factor, row in doc["factors"].items():
                counts[row["verdict"] or "no KB edge"] += 1
                print(
                    f"{defense:22} {factor:30} {row['kb'] or '-':10} {row['observed']:9} {row['difference']:+11.4f} "
                    f"{row['q_value']:8.2g} {row['verdict'] or '-'}"
                )
            met = "met" if wall <= TARGET_S else "MISSED"
            missing = ", ".join(doc["unmeasured"]) or "-"
            print(f"{defense}: {seeds} seeds in {wall:.0f} s (target {TARGET_S:.0f} s: {met}); unmeasured: {missing}")
        layer = load_validations(store.path)
    print("verdicts on the KB's defense -> factor edges:", dict(counts))
    literature = leave_one_paper_out(kb, "graph")
    measured = leave_one_paper_out(kb, "graph", validations=layer, evidence="all")
    for name, score in (("literature only", literature), ("with measured evidence", measured)):
        print(f"leave-one-paper-out, {name}: {score.correct} of {score.n} correct, {score.covered} covered")


if __name__ == "__main__":
    main()
