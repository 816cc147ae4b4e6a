"""`interplay predict-combo`, `matrix --combos`, `eval loo --combos`: two defenses deployed together."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from interplay.cli.common import (
    DataPath,
    Dataset,
    Jobs,
    Json,
    KBDir,
    Overlay,
    Quick,
    Seeds,
    Store,
    check_run_options,
    console,
    emit_json,
    err_console,
    fail,
    open_kb,
    resolve,
)
from interplay.cli.reason_commands import ContextOpt, _context, _score_table
from interplay.interactions import ContextError
from interplay.interactions.combos import ComboPrediction, SameDefense, predict_all_combos, predict_combo
from interplay.interactions.evaluate import COMBO_METHODS, leave_one_paper_out_combos
from interplay.kb import KB

STATUS = {"effective": "[green]effective[/]", "conflict": "[red]conflict[/]", "compatible": "[green]compatible[/]"}


def _status(s: str) -> str:
    return STATUS.get(s, f"[yellow]{s}[/]")


def agreement(p: ComboPrediction) -> str | None:
    """Pair-level agreement with the literature: a reported conflict on either side vs the predicted verdict."""
    if p.known is None:
        return None
    if p.known["conflict"]:
        return "agree" if p.verdict == "conflict" else "disagree"
    if all(v == "effective" for v in p.known["outcome"].values()):
        return "agree" if p.verdict == "compatible" else "disagree"
    return None


def predict_combo_cmd(
    a: str,
    b: str,
    context: ContextOpt = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Predict whether defenses A and B each stay effective when deployed in the same model."""
    k = open_kb(kb, overlay)
    da, db = resolve(k, a, "defense"), resolve(k, b, "defense")
    try:
        p = predict_combo(k, da, db, _context(context))
    except (SameDefense, ContextError) as exc:
        fail(str(exc))
    if json:
        emit_json({**p.to_dict(), "agreement": agreement(p)})
        return
    root = Tree(f"[bold]{p.a} + {p.b}[/]: {_status(p.verdict)} (confidence {p.confidence:.2f})")
    for s in p.sides:
        known = f", literature: {_status(s.known)}" if s.known else ""
        branch = root.add(
            f"{s.defense} with {s.other}: {_status(s.status)} ({s.resolution}, {s.confidence:.2f}{known})"
        )
        for label, paths in (("supporting", s.supporting), ("opposing", s.opposing), ("other", s.neutral)):
            for path in paths:
                names = " -> ".join(k.entity(n).code or n for n in path.nodes)
                refs = sorted(path.references)
                branch.add(f"{label} {path.sign}  {names}  (weight {path.weight:.2f}; {', '.join(refs)})")
    if p.known:
        root.add(f"reported: {p.known['observation']} ({', '.join(p.known['refs'])})")
    console.print(root)


def combo_matrix(k: KB, context: dict[str, str], json: bool) -> None:
    """Every unordered pair of defenses: predicted verdict and, where reported, the literature's."""
    try:
        preds = predict_all_combos(k, context)
    except ContextError as exc:
        fail(str(exc))
    if json:
        emit_json([{**p.to_dict(), "agreement": agreement(p)} for p in preds])
        return
    t = Table("defense A", "defense B", "A stays", "B stays", "prediction", "conf.", "literature", title="Combinations")
    for p in preds:
        lit = "conflict" if p.known and p.known["conflict"] else ("reported" if p.known else "-")
        if agreement(p):
            lit += f" ({agreement(p)})"
        t.add_row(p.a, p.b, *(_status(s.status) for s in p.sides), _status(p.verdict), f"{p.confidence:.2f}", lit)
    console.print(t)
    agree = sum(agreement(p) == "agree" for p in preds)
    judged = sum(agreement(p) is not None for p in preds)
    console.print(f"Agreement with reported combinations: {agree}/{judged}")


def combo_loo(k: KB, json: bool) -> None:
    """Leave-one-paper-out over the combination observations, with the majority baseline."""
    docs = [leave_one_paper_out_combos(k, m).to_dict() for m in COMBO_METHODS]
    if json:
        emit_json({**docs[0], "baselines": docs[1:]})
        return
    console.print(_score_table("Leave-one-paper-out over combinations (one case per reported side)", docs))
    for e in docs[0]["errors"]:
        console.print(
            f"[red]miss[/] {e['defense']} with {e['other']}: reported {e['truth']}, predicted {e['predicted']}"
        )


def validate_combo_cmd(
    a: str,
    b: str,
    dataset: Dataset = "synthetic",
    seeds: Seeds = None,
    quick: Quick = False,
    data_path: DataPath = None,
    store: Store = None,
    jobs: Jobs = None,
    context: ContextOpt = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Train with A, with B and with both; judge the predicted conflict on each defense's own target risks."""
    k = open_kb(kb, overlay)
    da, db = resolve(k, a, "defense"), resolve(k, b, "defense")
    check_run_options(dataset, seeds, jobs)
    ctx = _context(context)  # a threat-model qualifier (theft=..., adversary=...) selects settings and edges
    try:
        p = predict_combo(k, da, db, ctx)
    except (SameDefense, ContextError) as exc:
        fail(str(exc))

    from interplay.validators.combination import ComboConfig, run_combo
    from interplay.validators.data import DataError
    from interplay.validators.experiment import available_cpus
    from interplay.validators.registry import UnregisteredPair
    from interplay.validators.settings import DEFAULT_SEEDS, QUICK_SEEDS, default_settings, load_task, with_context
    from interplay.validators.store import ResultStore

    n_seeds = seeds if seeds is not None else (QUICK_SEEDS if quick else DEFAULT_SEEDS)

    try:
        cfg = ComboConfig(da, db, with_context(default_settings(dataset, quick), ctx), tuple(k.defenses[da].targets),
                          tuple(k.defenses[db].targets), str(data_path) if data_path else None)
        if dataset == "adult":  # fail fast, before any training, when the files are missing
            load_task(cfg.settings, 0, data_path)
    except (UnregisteredPair, DataError, ValueError) as exc:
        fail(str(exc))
    predicted = {s.defense: s.status for s in p.sides} | {"pair": p.verdict}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(f"{da} + {db} on {dataset}", total=n_seeds)
        doc = run_combo(cfg, n_seeds, predicted, ResultStore(store), lambda seed, cached: bar.advance(task),
                        jobs or available_cpus())
    if json:
        emit_json(doc)
        return
    _render_validation(doc)


def _render_validation(doc: dict) -> None:
    t = Table("defense", "target (metric)", "baseline", "alone", "combined", "loss", "95% CI", "p", "observed",
              title=f"{' + '.join(doc['defenses'])} on {doc['dataset']}")
    for side in doc["sides"]:
        for risk, v in side["effectiveness"].items():
            loss = v["loss"]
            t.add_row(side["defense"], f"{risk} ({v['metric']})", f"{v['alone']['baseline']:.4f}",
                      f"{v['alone']['defended']:.4f}", f"{loss['defended']:.4f}", f"{loss['difference']:+.4f}",
                      f"[{loss['ci95'][0]:+.4f}, {loss['ci95'][1]:+.4f}]", f"{loss['p_value']:.3g}", loss["observed"])
        if not side["effectiveness"]:
            t.add_row(side["defense"], "no registered probe for its targets", *[""] * 6, side["observed"])
    console.print(t)
    for side in doc["sides"]:
        console.print(f"{side['defense']} with {side['with']}: predicted {_status(side['prediction'])}, observed "
                      f"{_status(side['observed'])} -> [bold]{side['verdict']}[/] (effective alone: "
                      f"{side['defense_effective']}; accuracy lost by combining: {side['utility_drop']:+.3f})")
    u = doc["utility"]
    console.print(f"utility (accuracy): {', '.join(f'{k} {v:.3f}' for k, v in u.items() if k != 'metric')}")
    console.print(f"pair: predicted {_status(doc['prediction'])}, observed {_status(doc['observed'])} -> "
                  f"[bold]{doc['verdict']}[/] ({doc['seeds']} seeds; {doc['runtime_s']:.1f} s)")
