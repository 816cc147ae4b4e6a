"""Leave-one-paper-out records for the risk-coverage figure: for each of the SoK's directed cells, the graph
method's and the guideline's prediction with the cell's references hidden (as ``interplay eval loo`` predicts),
its confidence (None where the method abstains: ambiguous or unknown) and whether it is the reported direction.

    python docs/loo_records.py OUT.png
"""

import sys

from interplay import load_kb
from interplay.export import charts
from interplay.interactions.evaluate import cell_references
from interplay.interactions.reasoner import predict

COVERED = ("increase", "decrease", "none")


def records(method: str) -> list[dict]:
    kb = load_kb()
    out = []
    for o in kb.observations:
        if o.direction == "unexplored":
            continue
        p = predict(kb, o.defense, o.risk, method, excluded_refs=cell_references(kb, o.defense, o.risk))
        covered = p.direction in COVERED
        out.append({"confidence": p.confidence if covered else None, "correct": p.direction == o.direction})
    return out


if __name__ == "__main__":
    curves = {m: records(m) for m in ("graph", "guideline")}
    for name, rs in curves.items():
        answered = [r for r in rs if r["confidence"] is not None]
        print(f"{name}: {len(rs)} cells, {len(answered)} answered, {sum(r['correct'] for r in answered)} correct")
    charts.save(charts.risk_coverage(curves, "leave-one-paper-out, SoK cells"), sys.argv[1])
