"""`interplay predict-combo`, `matrix --combos`, `eval loo --combos`: two defenses deployed together."""

from __future__ import annotations

from rich.table import Table
from rich.tree import Tree

from interplay import api
from interplay.cli.common import (
    Address,
    ContextOpt,
    DataPath,
    Dataset,
    Drop,
    ExecutorOpt,
    Jobs,
    Json,
    KBDir,
    Label,
    Model,
    NTrain,
    Overlay,
    Param,
    Preset,
    ProgressBar,
    Quick,
    Seeds,
    Sensitive,
    Store,
    console,
    data_options,
    emit_json,
    errors,
    esc,
    open_kb,
    parse_context,
    preset_of,
    score_table,
)
from interplay.kb import KB

STATUS = {"effective": "[green]effective[/]", "conflict": "[red]conflict[/]", "compatible": "[green]compatible[/]"}


def _status(s: str) -> str:
    return STATUS.get(s, f"[yellow]{esc(s)}[/]")


def predict_combo_cmd(
    a: str,
    b: str,
    context: ContextOpt = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
) -> None:
    """Predict whether defenses A and B each stay effective when deployed in the same model."""
    k = open_kb(kb, overlay, json)
    with errors(json):
        p = api.predict_pair(a, b, context=parse_context(context, json), kb=k)
    if json:
        emit_json({**p.to_dict(), "agreement": api.combo_agreement(p)})
        return
    root = Tree(f"[bold]{esc(p.a)} + {esc(p.b)}[/]: {_status(p.verdict)} (confidence {p.confidence:.2f})")
    for s in p.sides:
        known = f", literature: {_status(s.known)}" if s.known else ""
        branch = root.add(
            f"{esc(s.defense)} with {esc(s.other)}: {_status(s.status)} "
            f"({esc(s.resolution)}, {s.confidence:.2f}{known})"
        )
        for label, paths in (("supporting", s.supporting), ("opposing", s.opposing), ("other", s.neutral)):
            for path in paths:
                names = " -> ".join(k.entity(n).code or n for n in path.nodes)
                refs = sorted(path.references)
                branch.add(
                    f"{label} {esc(path.sign)}  {esc(names)}  (weight {path.weight:.2f}; {esc(', '.join(refs))})"
                )
    if p.known:
        root.add(f"reported: {esc(p.known['observation'])} ({esc(', '.join(p.known['refs']))})")
    console.print(root)


def combo_matrix(k: KB, context: dict[str, str], json: bool, defenses: str = "sok") -> None:
    """Every unordered pair of defenses: predicted verdict and, where reported, the literature's."""
    with errors(json):
        preds = api.combo_matrix(context=context, kb=k, defenses=defenses)
    if json:
        emit_json([{**p.to_dict(), "agreement": api.combo_agreement(p)} for p in preds])
        return
    t = Table("defense A", "defense B", "A stays", "B stays", "prediction", "conf.", "literature", title="Combinations")
    for p in preds:
        lit = "conflict" if p.known and p.known["conflict"] else ("reported" if p.known else "-")
        if api.combo_agreement(p):
            lit += f" ({api.combo_agreement(p)})"
        sides = (_status(s.status) for s in p.sides)
        t.add_row(esc(p.a), esc(p.b), *sides, _status(p.verdict), f"{p.confidence:.2f}", esc(lit))
    console.print(t)
    agree = sum(api.combo_agreement(p) == "agree" for p in preds)
    judged = sum(api.combo_agreement(p) is not None for p in preds)
    console.print(f"Agreement with reported combinations: {agree}/{judged}")


def combo_loo(k: KB, json: bool) -> None:
    """Leave-one-paper-out over the combination observations, with the majority baseline."""
    doc = api.evaluate_loo(combos=True, kb=k)
    docs = [doc, *doc["baselines"]]
    if json:
        emit_json(doc)
        return
    console.print(score_table("Leave-one-paper-out over combinations (one case per reported side)", docs))
    for e in docs[0]["errors"]:
        console.print(
            f"[red]miss[/] {esc(e['defense'])} with {esc(e['other'])}: reported {esc(e['truth'])}, "
            f"predicted {esc(e['predicted'])}"
        )


def validate_combo_cmd(
    a: str,
    b: str,
    dataset: Dataset = "synthetic",
    seeds: Seeds = None,
    preset: Preset = None,
    quick: Quick = False,
    param: Param = None,
    data_path: DataPath = None,
    store: Store = None,
    jobs: Jobs = None,
    executor: ExecutorOpt = "local",
    address: Address = None,
    context: ContextOpt = None,
    json: Json = False,
    kb: KBDir = None,
    overlay: Overlay = None,
    label: Label = None,
    sensitive: Sensitive = None,
    drop: Drop = None,
    n_train: NTrain = None,
    model: Model = None,
) -> None:
    """Train with A, with B and with both; judge the predicted conflict on each defense's own target risks."""
    k = open_kb(kb, overlay, json)
    with errors(json), ProgressBar() as bar:
        v = api.validate_combo(
            a,
            b,
            dataset=dataset,
            preset=preset_of(preset, quick, json),
            seeds=seeds,
            params=param,
            context=parse_context(context, json),
            data_path=data_path,
            store=store,
            jobs=jobs,
            executor=executor,
            address=address,
            kb=k,
            progress=bar,
            **data_options(label, sensitive, drop, n_train, model),
        )
    if json:
        emit_json(v.to_dict())
        return
    _render_validation(v.to_dict())


def _render_validation(doc: dict) -> None:
    t = Table(
        "defense",
        "target (metric)",
        "baseline",
        "alone",
        "combined",
        "loss",
        "95% CI",
        "p",
        "observed",
        title=esc(f"{' + '.join(doc['defenses'])} on {doc['dataset']}"),
    )
    for side in doc["sides"]:
        for risk, v in side["effectiveness"].items():
            loss = v["loss"]
            t.add_row(
                esc(side["defense"]),
                esc(f"{risk} ({v['metric']})"),
                f"{v['alone']['baseline']:.4f}",
                f"{v['alone']['defended']:.4f}",
                f"{loss['defended']:.4f}",
                f"{loss['difference']:+.4f}",
                f"[{loss['ci95'][0]:+.4f}, {loss['ci95'][1]:+.4f}]",
                f"{loss['p_value']:.3g}",
                esc(loss["observed"]),
            )
        if not side["effectiveness"]:
            t.add_row(esc(side["defense"]), "no registered probe for its targets", *[""] * 6, esc(side["observed"]))
    console.print(t)
    for side in doc["sides"]:
        console.print(
            f"{esc(side['defense'])} with {esc(side['with'])}: predicted {_status(side['prediction'])}, observed "
            f"{_status(side['observed'])} -> [bold]{esc(side['verdict'])}[/] (effective alone: "
            f"{side['defense_effective']}; accuracy lost by combining: {side['utility_drop']:+.3f})"
        )
    u = doc["utility"]
    console.print(f"utility (accuracy): {esc(', '.join(f'{k} {v:.3f}' for k, v in u.items() if k != 'metric'))}")
    console.print(
        f"pair: predicted {_status(doc['prediction'])}, observed {_status(doc['observed'])} -> "
        f"[bold]{esc(doc['verdict'])}[/] ({doc['seeds']} seeds; {doc['runtime_s']:.1f} s)"
    )
