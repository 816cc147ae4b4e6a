"""`interplay predict-combo`, `matrix --combos`, `eval loo --combos`: two defenses deployed together."""

from __future__ import annotations

from rich.table import Table
from rich.tree import Tree

from interplay.cli.common import Json, KBDir, Overlay, console, emit_json, fail, open_kb, resolve
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
