"""Benchmark the image regime: Fashion-MNIST and CNNs trained into memorization (docs/images.md).

Three parts, each optional:

- ``--cost``: CPU seconds per model of the built-in CNNs on 2000 Fashion-MNIST images (plain and adversarial
  training), with training and test accuracy: the regime's cost note.
- ``--part sok``: the SoK's 7 x 8 matrix under literature settings, the cells whose papers state image data on
  Fashion-MNIST in their column's regime (the others on ``--dataset``, synthetic by default).
- ``--part beyond``: the 64 cells of the eight defenses beyond the SoK on Fashion-MNIST.

Each prints the accounting (agree / disagree / small / equivalent / underpowered / not-applicable) and one line per
cell: literature and observed direction, outcome, effect with its 95% CI, metric, data, the privacy regime's choice
and, for a disagreement or a cell that did not run, what the record says about it. The full parts take hours on two
cores: ``--cells D/R,D/R`` runs only those cells (of the part), ``--quick`` the quick preset. Usage:

    .venv/bin/python benchmarks/bench_images.py [--cost] [--part sok|beyond] [--cells D/R,...] [--quick] [--seeds N]
        [--store PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from interplay.verdicts import accounting_line, outcome

N_COST = 2000


def cost() -> None:
    """CPU seconds to train one CNN on 2000 Fashion-MNIST images, plain and adversarially, with its accuracies."""
    from dataclasses import replace

    from interplay.validators.defenses.adversarial_training import AdversarialTraining
    from interplay.validators.defenses.base import DefensePlugin
    from interplay.validators.settings import default_settings, load_task
    from interplay.validators.training import accuracy

    base = default_settings("fashion-mnist").with_n_train(N_COST)
    task = load_task(base, 0)
    for capacity, epochs, plugins in (
        ("medium", 30, (DefensePlugin,)),
        ("medium", 60, (DefensePlugin, AdversarialTraining)),
    ):
        s = replace(base, train=replace(base.train, capacity=capacity, epochs=epochs))
        for plugin in plugins:
            start = time.process_time()
            model = plugin(s, task).deploy(task.train, 0).model
            cpu = time.process_time() - start
            n = sum(p.numel() for p in model.parameters())
            print(
                f"cost: {plugin.__name__:20} CNN {capacity} ({n} parameters), {epochs} epochs on {N_COST} images: "
                f"{cpu:.1f} CPU s; train {accuracy(model, task.train):.3f}, test {accuracy(model, task.test):.3f}"
            )


def _cells(part: str, chosen: str | None) -> list[tuple[str, str]]:
    from interplay.kb import load_kb

    kb = load_kb()
    defenses = [d for d in kb.defenses if (d in kb.sok_defenses) == (part == "sok")]
    cells = [(d, r) for d in defenses for r in kb.risks]
    if chosen:
        wanted = [tuple(c.split("/")) for c in chosen.split(",")]
        unknown = [c for c in wanted if c not in cells]
        if unknown:
            raise SystemExit(f"not cells of the {part} part: {unknown}")
        cells = [c for c in cells if c in wanted]
    return cells


def _line(r: dict) -> str:
    e = r.get("effect") or {}
    ci = e.get("ci95")
    effect = f"{e['difference']:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "-"
    regime = r.get("regime") or {}
    chosen = (
        f"{regime.get('value')} train {regime.get('baseline_score', float('nan')):.3f}" if "value" in regime else "-"
    )
    line = (
        f"{r['defense'] + ' / ' + r['risk']:44} {r['literature']:9} {r.get('observed') or '-':9} {outcome(r):13} "
        f"{effect:28} {e.get('metric', '-'):26} {r.get('dataset', '-'):14} {chosen}"
    )
    if outcome(r) in ("disagree", "not run", "not-applicable"):
        line += f"\n    why: {r.get('reason') or r.get('why') or _why(r)}"
    return line


def _why(r: dict) -> str:
    """What the record shows about a disagreement: the baseline and defended scores and the utility cost."""
    e, u = r.get("effect") or {}, r.get("utility") or {}
    parts = [f"{k} {e[k]:.4f}" for k in ("baseline", "defended", "p_value") if isinstance(e.get(k), float)]
    parts += [f"evidence {e['evidence']}"] if e.get("evidence") else []
    parts += [f"test accuracy {k} {u[k]:.4f}" for k in ("baseline", "defended") if isinstance(u.get(k), float)]
    return "; ".join(parts) or "see the record"


def matrix(args: argparse.Namespace) -> None:
    import interplay

    cells = _cells(args.part, args.cells)
    dataset = "fashion-mnist" if args.part == "beyond" else args.dataset
    records, start, cpu = [], time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = args.store or Path(tmp) / "bench.sqlite"
        for d, r in cells:
            m = interplay.validate_matrix(
                defenses=[d], risks=[r], dataset=dataset, preset="quick" if args.quick else "default",
                seeds=args.seeds, setting="literature", store=store,
            )  # fmt: skip
            records += m.to_dict()
            print(_line(records[-1]), flush=True)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"{args.part}: {len(records)} cells{' (--quick)' if args.quick else ''}; {wall:.0f} s wall, {cpu:.0f} CPU s "
        f"in this process"
    )
    print(f"accounting: {accounting_line(records)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cost", action="store_true", help="time one CNN per recipe on 2000 images")
    parser.add_argument("--part", choices=("sok", "beyond"), help="the SoK's 56 cells or the 64 beyond it")
    parser.add_argument("--cells", help="only these cells of the part, as DEFENSE/RISK separated by commas")
    parser.add_argument("--dataset", default="synthetic", help="the data of the SoK part's cells without image data")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--store", type=Path, help="a results store to reuse (default: a fresh temporary one)")
    args = parser.parse_args()
    if args.cost:
        cost()
    if args.part:
        matrix(args)
    if not (args.cost or args.part):
        parser.error("give --cost, --part or both")


if __name__ == "__main__":
    main()
