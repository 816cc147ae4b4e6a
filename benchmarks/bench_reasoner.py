"""Reasoner targets (issues 3, 31): leave-one-paper-out accuracy and coverage, selective accuracy at the default
abstention threshold, and `matrix --json` wall time (all 120 cells).

Run: python benchmarks/bench_reasoner.py
"""

from __future__ import annotations

import subprocess
import sys
import time

from interplay import load_kb
from interplay.interactions import predict_all
from interplay.interactions.evaluate import BASELINES, leave_one_paper_out


def main() -> None:
    kb = load_kb()
    print("Leave-one-paper-out over the directed cells of Table 3 (targets: graph >= 37/42 correct; selective "
          "accuracy >= 0.90 at coverage >= 0.60)")  # fmt: skip
    for method in BASELINES:
        s = leave_one_paper_out(kb, method).to_dict()
        lo, hi = s["accuracy_ci95"]
        sel = s.get("selective")
        answered = f"  selective {sel['accuracy']:.3f} at coverage {sel['coverage']:.3f}" if sel else ""
        print(f"  {method:14s} correct {s['correct']:2d}/{s['n']}  covered {s['covered']:2d}  "
              f"accuracy {s['accuracy']:.2f} [{lo:.2f}, {hi:.2f}]{answered}")  # fmt: skip
    for method in ("graph", "guideline"):
        preds = predict_all(kb, method)
        directed = [p for p in preds if p.known and p.known["direction"] != "unexplored"]
        right = sum(p.direction == p.known["direction"] for p in directed)
        covered = sum(p.direction != "unknown" for p in preds)
        answered = sum(not p.abstain for p in preds)
        print(f"Full KB, {method}: {right}/{len(directed)} directed cells correct; {covered}/{len(preds)} pairs "
              f"covered, {answered} answered without abstaining")  # fmt: skip
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "interplay.cli", "matrix", "--defenses", "all", "--json"],
            check=True,
            capture_output=True,
        )
        runs.append(time.perf_counter() - t0)
    print(f"interplay matrix --json wall time incl. start-up: best {min(runs):.2f} s, median {sorted(runs)[2]:.2f} s "
          "(target < 1 s)")  # fmt: skip


if __name__ == "__main__":
    main()
