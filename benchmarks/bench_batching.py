"""Benchmark batched training: CPU seconds per seed before (models trained one by one, the path without batching) and
after (models trained in batches, :mod:`interplay.validators.batched`), measured in one process, one after the other.

Cells: adversarial training -> evasion and DP-SGD -> membership inference (8 seeds, the default preset, synthetic data,
the generic setting), each validated twice: under :func:`~interplay.validators.batched.one_by_one` (``fit`` with each
defense's hooks, Opacus for DP-SGD, only the plain recipe's reference models batched, no seeds trained ahead) and
as it runs by default. CPU time is ``time.process_time`` (this process only, so less sensitive than wall time to
other jobs on the machine). Each cell is first run once on two seeds (not timed), so that both paths find the
memoized noise search and imports done.

Then, per cell, whether the per-seed results agree within the seeds' spread: the paired effect (defended minus
baseline score) before and after, its difference against twice its standard error over the seeds, the largest change
of a seed's score against the standard deviation of the scores across seeds, and the observed direction, the
defense's effectiveness and the verdict under each path.

``--matrix`` also times the whole default matrix (``interplay.validate_matrix``: the SoK's seven defenses x every risk,
``--setting auto``) both ways, and lists the cells whose observed direction or verdict differs. It is long (tens of
minutes per path on two cores). Usage:

    .venv/bin/python benchmarks/bench_batching.py [--preset default] [--dataset synthetic] [--seeds 8] [--matrix]
        [--skip-cells] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np

CELLS = [("adversarial-training", "evasion"), ("differential-privacy", "membership-inference")]


def _timed(run, before: bool) -> tuple[float, float, object]:
    from interplay.validators import batched

    with batched.one_by_one() if before else nullcontext():
        cpu, wall = time.process_time(), time.perf_counter()
        out = run()
        return time.process_time() - cpu, time.perf_counter() - wall, out


def cell(defense: str, risk: str, args: argparse.Namespace, tmp: Path) -> dict:
    from interplay.kb import load_kb
    from interplay.validators import batched
    from interplay.validators.experiment import ValidationConfig, run_validation
    from interplay.validators.settings import default_settings
    from interplay.validators.store import ResultStore
    from interplay.verdicts import validation_judge

    kb = load_kb()
    settings = default_settings(args.dataset, args.preset)
    cfg = ValidationConfig(defense, risk, settings, tuple(kb.defenses[defense].targets))
    judge = validation_judge("increase")
    run_validation(cfg, 2, judge)  # warm-up: imports, the memoized noise search
    with batched.one_by_one():
        run_validation(cfg, 2, judge)
    out: dict = {"cell": f"{defense} -> {risk}", "seeds": args.seeds}
    for path in ("before", "after"):
        store = ResultStore(tmp / f"{defense}-{risk}-{path}.sqlite")
        cpu, wall, doc = _timed(lambda s=store: run_validation(cfg, args.seeds, judge, s), path == "before")
        runs, effectiveness = store.runs(doc["config_hash"]), doc["effectiveness"]
        if len(runs) != args.seeds:
            raise SystemExit(f"{defense} -> {risk} ({path}): {len(runs)} seeds stored; {store.write_error}")
        arms = ("baseline", "defended")
        scores = np.array([[runs[s][a]["risks"][risk]["score"] for a in arms] for s in sorted(runs)])
        out[path] = {
            "cpu_s": cpu,
            "wall_s": wall,
            "cpu_s_per_seed": cpu / args.seeds,
            "scores": scores.tolist(),
            "effect": doc["effect"],
            "observed": doc["observed"],
            "defense_effective": doc["defense_effective"],
            "effectiveness": {t: (e["difference"], e["p_value"], e["observed"]) for t, e in effectiveness.items()},
            "verdict": doc["verdict"],
            "utility": doc["utility"],
        }
    out["speedup"] = out["before"]["cpu_s"] / out["after"]["cpu_s"]
    out["agreement"] = agreement(np.array(out["before"]["scores"]), np.array(out["after"]["scores"]))
    return out


def agreement(before: np.ndarray, after: np.ndarray) -> dict:
    """Per-seed (baseline, defended) scores under both paths: whether they agree within the seeds' spread."""
    d_before, d_after = before[:, 1] - before[:, 0], after[:, 1] - after[:, 0]
    n = len(d_before)
    se = math.sqrt(d_before.var(ddof=1) / n + d_after.var(ddof=1) / n)
    change = np.abs(after - before).max(0)  # per arm, the largest change of one seed's score
    spread = np.maximum(before.std(0, ddof=1), after.std(0, ddof=1))  # per arm, the scores' spread across seeds
    effect_change = abs(d_after.mean() - d_before.mean())
    return {
        "effect_before": float(d_before.mean()),
        "effect_after": float(d_after.mean()),
        "effect_change": float(effect_change),
        "two_se": 2 * se,
        "max_seed_change": change.tolist(),
        "seeds_sd": spread.tolist(),
        "agree": bool(effect_change <= 2 * se + 1e-12),
    }


def matrix(args: argparse.Namespace, tmp: Path) -> dict:
    import interplay

    out: dict = {}
    for path in ("before", "after"):
        store = tmp / f"matrix-{path}.sqlite"
        options = {"dataset": args.dataset, "preset": args.preset, "seeds": args.seeds, "store": store}
        cpu, wall, result = _timed(lambda o=options: interplay.validate_matrix(**o), path == "before")
        records = result.to_dict()  # type: ignore[attr-defined]
        out[path] = {"cpu_s": cpu, "wall_s": wall, "records": records}
    out["speedup"] = out["before"]["cpu_s"] / out["after"]["cpu_s"]
    return out


def _cells_of(records) -> dict:
    return {(r["defense"], r["risk"]): r for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--matrix", action="store_true", help="also the whole default matrix, both ways (long)")
    parser.add_argument("--skip-cells", action="store_true", help="only the matrix")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    report: dict = {"cells": [], "matrix": None}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if not args.skip_cells:
            for d, r in CELLS:
                c = cell(d, r, args, tmp)
                report["cells"].append(c)
                if not args.json:
                    print_cell(c)
        if args.matrix:
            m = matrix(args, tmp)
            report["matrix"] = summarize_matrix(m, args.seeds)
            if not args.json:
                print_matrix(report["matrix"])
    if args.json:
        print(json.dumps(report, indent=2, default=str))


def print_cell(c: dict) -> None:
    b, a, g = c["before"], c["after"], c["agreement"]
    print(
        f"{c['cell']} ({c['seeds']} seeds): CPU per seed {b['cpu_s_per_seed']:.2f} s before, "
        f"{a['cpu_s_per_seed']:.2f} s after ({c['speedup']:.2f}x less); wall {b['wall_s']:.0f} s / {a['wall_s']:.0f} s",
        flush=True,
    )
    for path, doc in (("before", b), ("after", a)):
        e = doc["effect"]
        eff = ", ".join(f"{t}: {d:+.4f} p={p:.2g} {o}" for t, (d, p, o) in doc["effectiveness"].items())
        print(
            f"  {path:6}: effect {e['difference']:+.4f} [{e['ci95'][0]:+.4f}, {e['ci95'][1]:+.4f}] "
            f"p={e['p_value']:.2g}, "
            f"observed {doc['observed']}, verdict {doc['verdict']}, effective {doc['defense_effective']} ({eff}); "
            f"utility {doc['utility']['baseline']:.3f}/{doc['utility']['defended']:.3f}"
        )
    print(
        f"  agree within the seeds' spread: {'yes' if g['agree'] else 'NO'} (effect {g['effect_before']:+.4f} -> "
        f"{g['effect_after']:+.4f}, change {g['effect_change']:.4f} vs 2 SE {g['two_se']:.4f}; largest change of a "
        f"seed's score baseline/defended {g['max_seed_change'][0]:.2g}/{g['max_seed_change'][1]:.2g} vs the seeds' "
        f"sd {g['seeds_sd'][0]:.2g}/{g['seeds_sd'][1]:.2g})",
        flush=True,
    )


def summarize_matrix(m: dict, seeds: int) -> dict:
    before, after = _cells_of(m["before"]["records"]), _cells_of(m["after"]["records"])
    differing = []
    for key, b in before.items():
        a = after.get(key, {})
        if (b.get("observed"), b.get("verdict")) != (a.get("observed"), a.get("verdict")):
            differing.append(
                {
                    "cell": f"{key[0]} -> {key[1]}",
                    "before": (b.get("observed"), b.get("verdict"), (b.get("effect") or {}).get("difference"),
                               (b.get("effect") or {}).get("p_value")),
                    "after": (a.get("observed"), a.get("verdict"), (a.get("effect") or {}).get("difference"),
                              (a.get("effect") or {}).get("p_value")),
                }
            )  # fmt: skip
    ran = sum(r.get("observed") is not None for r in before.values())
    return {
        "cells": len(before),
        "ran": ran,
        "cpu_s": {"before": m["before"]["cpu_s"], "after": m["after"]["cpu_s"]},
        "wall_s": {"before": m["before"]["wall_s"], "after": m["after"]["wall_s"]},
        "cpu_s_per_seed": {"before": m["before"]["cpu_s"] / seeds, "after": m["after"]["cpu_s"] / seeds},
        "speedup": m["speedup"],
        "differing": differing,
    }


def print_matrix(s: dict) -> None:
    print(
        f"default matrix ({s['ran']} of {s['cells']} cells ran): CPU {s['cpu_s']['before']:.0f} s before, "
        f"{s['cpu_s']['after']:.0f} s after ({s['speedup']:.2f}x less; per seed "
        f"{s['cpu_s_per_seed']['before']:.1f} s / {s['cpu_s_per_seed']['after']:.1f} s); "
        f"wall {s['wall_s']['before']:.0f} s / {s['wall_s']['after']:.0f} s"
    )
    print(f"  cells whose observed direction or verdict differs: {len(s['differing'])}")
    for d in s["differing"]:
        print(f"    {d['cell']}: before {d['before']}, after {d['after']}")


if __name__ == "__main__":
    main()
