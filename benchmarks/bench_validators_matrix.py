"""Benchmark ``interplay validate --all``: the whole defense x risk matrix through the real CLI, timed end to end.

Prints the wall time of a fresh run (process start to exit, against an empty store) and of a second run on the
same store (a resumed run: nothing is recomputed), against the targets (10 minutes with ``--quick``, 45 without,
on two cores); the verdict counts; the accounting against the literature (agree, disagree, equivalent,
underpowered, not-applicable over the cells with a reported direction; the same over the unexplored ones);
and the seven intended cells (a defense against its own risk) with effect,
95% CI and p-value. ``--sharing`` also times one defense's row (every risk, two seeds) in-process with and
without the shared deployment cache; ``--markdown`` prints the matrix as a Markdown table (for docs/results.md). Usage:

    .venv/bin/python benchmarks/bench_validators_matrix.py [--quick] [--dataset D] [--seeds N] [--setting S]
        [--defenses sok|all|beyond|A,B] [--sharing] [--markdown]

``--defenses beyond`` runs the eight defenses beyond the SoK alone (their 64 cells), the rows the issue times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from interplay.verdicts import accounting_line

TARGET_S = {True: 600.0, False: 2700.0}
INTENDED = [
    ("adversarial-training", "evasion"),
    ("outlier-removal", "poisoning"),
    ("watermarking", "model-ownership"),
    ("fingerprinting", "model-ownership"),
    ("differential-privacy", "membership-inference"),
    ("differential-privacy", "data-reconstruction"),
    ("group-fairness", "discrimination"),
    ("unlearning", "membership-inference"),
]


def defenses_spec(spec: str) -> str:
    """The CLI's ``--defenses`` value; ``beyond``: the KB's defenses beyond the SoK."""
    if spec != "beyond":
        return spec
    from interplay.kb import load_kb

    kb = load_kb()
    return ",".join(d for d in kb.defenses if d not in kb.sok_defenses)


def run_all(args: argparse.Namespace, store: Path) -> tuple[float, list[dict]]:
    cmd = [
        sys.executable,
        "-W",
        "ignore",
        "-m",
        "interplay.cli",
        "validate",
        "--all",
        "--json",
        "--store",
        str(store),
        "--dataset",
        args.dataset,
        *(["--quick"] if args.quick else []),
        *(["--seeds", str(args.seeds)] if args.seeds else []),
        "--setting",
        args.setting,
        "--defenses",
        defenses_spec(args.defenses),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"validate --all failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def markdown(records: list[dict]) -> str:
    """The matrix as Markdown: a row per defense, a column per risk; literature / prediction / observed, verdict."""
    arrow = {"increase": "↑", "decrease": "↓", "none": "=", "ambiguous": "?", "unknown": "?", "unexplored": "·"}
    risks = list(dict.fromkeys(r["risk"] for r in records))
    lines = ["| defense \\ risk | " + " | ".join(risks) + " |", "|---" * (len(risks) + 1) + "|"]
    for d in dict.fromkeys(r["defense"] for r in records):
        row = [r for r in records if r["defense"] == d]
        lines.append(
            f"| {d} | "
            + " | ".join(
                f"{arrow[r['literature']]} {arrow.get(r['prediction'], '?')} {arrow.get(r['observed'], '-')} "
                f"{r['verdict']}"
                for r in row
            )
            + " |"
        )
    return "\n".join(lines)


def sharing(args: argparse.Namespace, defense: str = "differential-privacy") -> None:
    """One row of the matrix (every risk, two seeds) without and with the deployment cache, in-process."""
    from interplay.kb import load_kb
    from interplay.validators import experiment
    from interplay.validators.experiment import ValidationConfig, measure_seed
    from interplay.validators.registry import RISKS
    from interplay.validators.settings import default_settings

    kb, settings = load_kb(), default_settings(args.dataset, "quick" if args.quick else "default")
    configs = [ValidationConfig(defense, r, settings, tuple(kb.defenses[defense].targets)) for r in RISKS]

    def row() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        for cfg in configs:
            for seed in range(2):
                measure_seed(cfg, seed)
        return time.perf_counter() - start, time.process_time() - cpu

    alone = row()
    with experiment.sharing_deployments() as cache:
        shared = row()
    print(
        f"{defense} row ({len(configs)} risks x 2 seeds), wall / CPU: {alone[0]:.1f} / {alone[1]:.1f} s alone, "
        f"{shared[0]:.1f} / {shared[1]:.1f} s sharing deployments ({alone[1] / shared[1]:.1f}x CPU; {cache.hits} "
        f"hits, {cache.misses} trainings, {len(cache.measurements)} measurements)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--sharing", action="store_true", help="also time one row with and without the cache")
    parser.add_argument("--markdown", action="store_true", help="also print the matrix as a Markdown table")
    parser.add_argument("--setting", default="auto", choices=("auto", "literature", "generic"))
    parser.add_argument("--defenses", default="sok", help="sok, all, beyond (the eight beyond the SoK) or A,B,...")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.sqlite"
        wall, records = run_all(args, store)
        again, _ = run_all(args, store)
    ran = [r for r in records if r["observed"] is not None]
    target = TARGET_S[args.quick]
    compute = sum(r["compute_s"] for r in ran)
    print(
        f"validate --all{' --quick' if args.quick else ''} --setting {args.setting} --defenses {args.defenses} on "
        f"{args.dataset}: {len(ran)} of "
        f"{len(records)} cells, "
        f"{ran[0]['seeds'] if ran else 0} seeds; {wall:.0f} s wall (target {target:.0f} s: "
        f"{'met' if wall <= target else 'MISSED'}); compute summed over cells {compute:.0f} s; "
        f"resumed run {again:.1f} s"
    )
    verdicts = {v: sum(r["verdict"] == v for r in records) for v in dict.fromkeys(r["verdict"] for r in records)}
    print(f"verdicts: {verdicts}")
    print(f"accounting (directions by BH q < 0.05): {accounting_line(records)}")
    by_cell = {(r["defense"], r["risk"]): r for r in records}
    print(f"{'intended cell':45} {'observed':9} {'difference':>10} {'95% CI':>20} {'p':>8} verdict")
    for d, r in INTENDED:
        c = by_cell.get((d, r))
        if c is None or c["observed"] is None:
            if c is not None:
                print(f"{d + ' / ' + r:45} {c['verdict']}")
            continue
        e = c["effect"]
        print(
            f"{d + ' / ' + r:45} {c['observed']:9} {e['difference']:+10.4f} "
            f"[{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}] {e['p_value']:8.2g} {c['verdict']}"
        )
    if args.markdown:
        print(markdown(records))
    if args.sharing:
        sharing(args)


if __name__ == "__main__":
    main()
