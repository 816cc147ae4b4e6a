"""Benchmark the validators: (defense, risk) cells through the real CLI, one process each, timed end to end.

Prints, per cell: wall time (process start to exit, so imports are included), the CPU time the process
used (user + system; on a machine shared with other jobs it is the better guide, since the validators run
on one thread, so uncontended wall time is about CPU time), prediction, observed
direction, effect, p-value, verdict, whether the defense worked, and utility. Each cell runs against a
fresh store, so nothing is cached. Usage:

    .venv/bin/python benchmarks/bench_validators.py [--quick] [--dataset synthetic] [--seeds N] [--json]
        [--defenses A,B] [--risks X,Y]

Default cells: adversarial training, DP-SGD and group fairness against evasion, membership and attribute
inference and discrimination (``--defenses``/``--risks`` choose others; ``bench_validators_matrix.py`` runs
the whole matrix in one process).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFENSES = "adversarial-training,differential-privacy,group-fairness"
RISKS = "evasion,membership-inference,attribute-inference,discrimination"
LIMIT_S = {False: 60.0, True: 15.0}


def run_cell(defense: str, risk: str, args: argparse.Namespace, store: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "interplay.cli",
        "validate",
        defense,
        risk,
        "--json",
        "--store",
        str(store),
        "--dataset",
        args.dataset,
    ]
    cmd += ["--quick"] * args.quick + (["--seeds", str(args.seeds)] if args.seeds else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if proc.returncode:
        return {"defense": defense, "risk": risk, "wall_s": wall, "cpu_s": cpu, "error": proc.stderr.strip()[-300:]}
    return json.loads(proc.stdout) | {"wall_s": wall, "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--json", action="store_true", help="print the full documents as one JSON list")
    parser.add_argument("--defenses", default=DEFENSES, help="comma-separated defenses (slugs or aliases)")
    parser.add_argument("--risks", default=RISKS, help="comma-separated risks (slugs or aliases)")
    args = parser.parse_args()
    docs = []
    header = (
        f"{'defense':22} {'risk':22} {'wall_s':>6} {'cpu_s':>6} {'pred':9} {'observed':9} {'diff':>8} {'p':>8} "
        f"{'verdict':12} {'effective':9} {'acc b/d':>11}"
    )
    if not args.json:
        print(header)
    for d in args.defenses.split(","):
        for r in args.risks.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                doc = run_cell(d, r, args, Path(tmp) / "bench.sqlite")
            docs.append(doc)
            if args.json:
                continue
            if "error" in doc:
                print(f"{d:22} {r:22} {doc['wall_s']:6.1f} ERROR {doc['error']}")
                continue
            e, u = doc["effect"], doc["utility"]
            flag = "" if doc["wall_s"] <= LIMIT_S[args.quick] else "  (wall over the time target)"
            print(
                f"{d:22} {r:22} {doc['wall_s']:6.1f} {doc['cpu_s']:6.1f} {doc['prediction']:9} {doc['observed']:9} "
                f"{e['difference']:+8.4f} {e['p_value']:8.2g} {doc['verdict']:12} {doc['defense_effective']!s:9} "
                f"{u['baseline']:.3f}/{u['defended']:.3f}{flag}",
                flush=True,
            )
    if args.json:
        print(json.dumps(docs, indent=2))


if __name__ == "__main__":
    main()
