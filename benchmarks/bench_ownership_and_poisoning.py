"""Wall time of the data-sanitizing and ownership cells: every pair with outlier removal, watermarking or
fingerprinting, or with the poisoning or model-ownership probe, at ``--preset quick`` (3 seeds), and the three
intended cells at default size (5 seeds), each with its effect, CI and p-value.

    python benchmarks/bench_ownership_and_poisoning.py [--skip-quick] [--skip-default] [--seeds-default N]

Each cell runs against a fresh store in one process: every figure is a cold run on this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import interplay
from interplay.errors import UsageError

DEFENSES = ("outlier-removal", "watermarking", "fingerprinting")
RISKS = ("poisoning", "model-ownership")
INTENDED = (
    ("outlier-removal", "poisoning"),
    ("watermarking", "model-ownership"),
    ("fingerprinting", "model-ownership"),
)


def cell(defense: str, risk: str, preset: str, seeds: int) -> str:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            v = interplay.validate(defense, risk, preset=preset, seeds=seeds, store=Path(tmp) / "s.sqlite", jobs=1)
        except UsageError as exc:
            return f"{defense:22} {risk:24} not run: {exc}"
    e = v.effect
    return (
        f"{defense:22} {risk:24} {time.perf_counter() - start:6.1f} s  {e.baseline:.3f} -> {e.defended:.3f}  "
        f"diff {e.difference:+.3f} [{e.ci95[0]:+.3f}, {e.ci95[1]:+.3f}]  p {e.p_value:.2g}  observed {v.observed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-quick", action="store_true")
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--seeds-default", type=int, default=5)
    args = parser.parse_args()
    kb = interplay.load_kb()
    if not args.skip_default:
        print(f"intended cells, default size, {args.seeds_default} seeds (synthetic)")
        for d, r in INTENDED:
            print(cell(d, r, "default", args.seeds_default), flush=True)
    if not args.skip_quick:
        print("every pair with one of these defenses or risks, --preset quick, 3 seeds (synthetic)")
        total = time.perf_counter()
        for d in kb.defenses:
            for r in kb.risks:
                if d in DEFENSES or r in RISKS:
                    print(cell(d, r, "quick", 3), flush=True)
        print(f"total {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
