"""Wall time of the validators' part-2 cells: every pair with a new defense or risk at ``--quick`` (3 seeds),
and the three intended cells at default size (5 seeds), each with its effect, CI and p-value.

    python benchmarks/bench_validators_part2.py [--skip-quick] [--skip-default] [--seeds-default N]

No results store: every figure is a cold run on this machine.
"""

from __future__ import annotations

import argparse
import time

from interplay.kb import load_kb
from interplay.validators.experiment import ValidationConfig, run_validation
from interplay.validators.registry import DEFENSES, RISKS
from interplay.validators.risks.base import ProbeUnsupported
from interplay.validators.settings import default_settings

NEW_DEFENSES = ("outlier-removal", "watermarking", "fingerprinting")
NEW_RISKS = ("poisoning", "model-ownership")
INTENDED = (
    ("outlier-removal", "poisoning"),
    ("watermarking", "model-ownership"),
    ("fingerprinting", "model-ownership"),
)


def cell(kb, defense: str, risk: str, quick: bool, seeds: int) -> str:
    cfg = ValidationConfig(defense, risk, default_settings("synthetic", quick), tuple(kb.defenses[defense].targets))
    start = time.perf_counter()
    try:
        doc = run_validation(cfg, seeds, "decrease")
    except ProbeUnsupported as exc:
        return f"{defense:22} {risk:24} unsupported: {exc}"
    e = doc["effect"]
    return (
        f"{defense:22} {risk:24} {time.perf_counter() - start:6.1f} s  {e['baseline']:.3f} -> {e['defended']:.3f}  "
        f"diff {e['difference']:+.3f} [{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}]  p {e['p_value']:.2g}  "
        f"observed {doc['observed']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-quick", action="store_true")
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--seeds-default", type=int, default=5)
    args = parser.parse_args()
    kb = load_kb()
    if not args.skip_default:
        print(f"intended cells, default size, {args.seeds_default} seeds (synthetic)")
        for d, r in INTENDED:
            print(cell(kb, d, r, False, args.seeds_default), flush=True)
    if not args.skip_quick:
        print("every new pair, --quick, 3 seeds (synthetic)")
        total = time.perf_counter()
        for d in DEFENSES:
            for r in RISKS:
                if d in NEW_DEFENSES or r in NEW_RISKS:
                    print(cell(kb, d, r, True, 3), flush=True)
        print(f"total {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
