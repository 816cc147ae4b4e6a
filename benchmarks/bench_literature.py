"""Benchmark the matrix under literature settings: ``interplay validate --all --setting literature``.

Every cell runs under the conditions its papers state (the KB's declared facts: data kind, attack kind,
fairness notion, subgroup, threat route, metric) and its column's regime (privacy: a memorizing baseline;
disparity: a small minority), with no per-cell numeric knob. Prints the wall time against the 60-minute
target on two cores, the accounting with BH-adjusted directions over the 42 cells the literature reports a
direction for and the 14 unexplored ones, and one line per directed cell: literature direction, observed
direction, verdict, metric, regime and declared facts (for the docs' reasons on each disagreement). Usage:

    .venv/bin/python benchmarks/bench_literature.py [--dataset D] [--seeds N] [--defenses sok|all|A,B] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_validators_matrix import markdown, run_all  # noqa: E402

from interplay.verdicts import accounting_line  # noqa: E402

TARGET_S = 3600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--defenses", default="sok", help="sok, all, beyond (the eight beyond the SoK) or A,B,...")
    parser.add_argument("--markdown", action="store_true", help="also print the matrix as a Markdown table")
    args = parser.parse_args()
    args.quick, args.setting = False, "literature"
    with tempfile.TemporaryDirectory() as tmp:
        wall, records = run_all(args, Path(tmp) / "bench.sqlite")
    ran = [r for r in records if r["observed"] is not None]
    print(
        f"validate --all --setting literature on {args.dataset}: {len(ran)} of {len(records)} cells, "
        f"{ran[0]['seeds'] if ran else 0} seeds; {wall:.0f} s wall (target {TARGET_S:.0f} s: "
        f"{'met' if wall <= TARGET_S else 'MISSED'})"
    )
    print(f"accounting (directions by BH q < 0.05): {accounting_line(records)}")
    print(f"{'cell':48} {'lit':9} {'observed':9} {'verdict':14} {'metric':36} {'regime':10} facts")
    for r in records:
        if r["literature"] == "unexplored":
            continue
        setting, regime = r.get("setting") or {}, (r.get("regime") or {}).get("regime")
        facts = ",".join(setting.get("facts", {})) or "-"
        metric = (r.get("effect") or {}).get("metric", "-")
        print(
            f"{r['defense'] + ' / ' + r['risk']:48} {r['literature']:9} {r['observed'] or '-':9} "
            f"{r['verdict']:14} {metric:36} {regime or '-':10} {setting.get('dataset', '')} {facts}"
        )
    if args.markdown:
        print(markdown(records))


if __name__ == "__main__":
    main()
