import json
import subprocess
import sys

import pytest

from interplay.interactions.combos import SameDefense, predict_all_combos, predict_combo
from interplay.interactions.evaluate import leave_one_paper_out_combos
from interplay.kb import KBError, load_kb


def _write(path, text):
    path.write_text(text, encoding="utf-8")


def test_combinations_are_loaded_and_counted(kb, cli):
    assert kb.stats()["combinations"] == len(kb.combinations) >= 3
    obs = kb.combination("watermarking", "differential-privacy")
    assert obs.outcome == {"watermarking": "conflict", "differential-privacy": "unknown"}
    assert all(kb.references[ev.ref].status == "external" for o in kb.combinations for ev in o.evidence)
    assert json.loads(cli("kb", "stats", "--json").stdout)["combinations"] == len(kb.combinations)


@pytest.mark.parametrize(
    "body,expect",
    [
        ("defenses: [differential-privacy, smoothing]\n  outcome: {differential-privacy: conflict, smoothing: unknown}",
         ["bad.yaml", "c1", "defenses.1", "unknown defense 'smoothing'"]),
        ("defenses: [watermarking, fingerprinting]\n  outcome: {watermarking: conflict, fingerprinting: unknown}\n"
         "  evidence: [{ref: nobody2099, kind: empirical}]",
         ["c1", "evidence.0.ref", "unknown reference 'nobody2099'"]),
        ("defenses: [watermarking, watermarking]\n  outcome: {watermarking: conflict}", ["two different defenses"]),
        ("defenses: [watermarking, fingerprinting]\n  outcome: {watermarking: broken, fingerprinting: unknown}",
         ["c1", "outcome.watermarking"]),
        ("defenses: [watermarking, differential-privacy]\n"
         "  outcome: {watermarking: conflict, differential-privacy: unknown}",
         ["pair already observed by szyller2023-dp-watermarking"]),
    ],
)  # fmt: skip
def test_bad_combination_is_a_located_problem(tmp_path, body, expect):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    if "evidence" not in body:
        body += "\n  evidence: [{ref: duddu2024sok, kind: conjectured}]"
    _write(overlay / "bad.yaml", f"combinations:\n- id: c1\n  {body}\n")
    with pytest.raises(KBError) as exc:
        load_kb(None, [overlay])
    for fragment in expect:
        assert fragment in str(exc.value)


def test_dp_with_watermarking_conflicts_through_capacity(kb):
    p = predict_combo(kb, "DP-SGD", "watermark")
    assert (p.a, p.b, p.verdict) == ("differential-privacy", "watermarking", "conflict")
    wm = next(s for s in p.sides if s.defense == "watermarking")
    assert wm.status == "conflict" and wm.known == "conflict"
    assert ["differential-privacy", "model-capacity", "watermarking"] in [q.nodes for q in wm.supporting]
    assert p.known["observation"] == "szyller2023-dp-watermarking"


def test_moderator_arrows_say_when_the_other_defense_works(kb):
    # watermarking lengthens the tail (an effect); DP works less well on long tails (a moderator arrow)
    dp = predict_combo(kb, "watermarking", "differential-privacy").sides[1]
    assert dp.defense == "differential-privacy" and dp.status == "conflict"
    assert ["watermarking", "tail-length", "differential-privacy"] in [q.nodes for q in dp.supporting]


def test_no_shared_factor_means_effective_with_zero_confidence(kb):
    p = predict_combo(kb, "watermarking", "group-fairness")
    assert p.verdict == "compatible" and p.confidence == 0
    assert {s.resolution for s in p.sides} == {"no-path"}


def test_combo_document_and_all_pairs(kb):
    doc = predict_combo(kb, "AT", "RD4").to_dict()
    assert doc["defenses"] == ["adversarial-training", "fingerprinting"]
    assert doc["prediction"] in {"conflict", "compatible", "ambiguous"}
    side = doc["sides"][0]
    assert {"defense", "with", "prediction", "confidence", "paths", "known"} <= set(side)
    assert side["paths"][0]["edges"][-1]["target"] == "adversarial-training"
    pairs = predict_all_combos(kb, defenses=kb.sok_defenses)
    assert len(pairs) == 21 and len({frozenset((p.a, p.b)) for p in pairs}) == 21
    every = predict_all_combos(kb)
    assert len(every) == 105 and len({frozenset((p.a, p.b)) for p in every}) == 105


def test_a_defense_without_a_target_has_no_effectiveness_to_lose(kb):
    side = predict_combo(kb, "dropout", "differential-privacy").sides[0]
    assert side.defense == "dropout" and side.status == "no-target"
    assert predict_combo(kb, "dropout", "weight-decay").verdict == "no-target"
    pair = predict_combo(kb, "watermarking", "dropout")
    assert pair.verdict == pair.sides[0].status.replace("effective", "compatible")


def test_same_or_unknown_defense_is_refused(kb, cli):
    with pytest.raises(SameDefense):
        predict_combo(kb, "DP", "differential-privacy")
    for args, fragment in [(("DP", "dp-sgd"), "two different defenses"), (("DP", "wtermark"), "did you mean")]:
        out = cli("predict-combo", *args)
        assert out.exit_code == 2 and fragment in out.output and "Traceback" not in out.output


def test_leave_one_paper_out_over_combinations(kb):
    score = leave_one_paper_out_combos(kb)
    known = sum(v != "unknown" for o in kb.combinations for v in o.outcome.values())
    assert score.n == known and score.covered == score.n
    assert set(score.to_dict()["confusion"]) <= {"effective", "conflict"}
    assert leave_one_paper_out_combos(kb, "majority").n == known


def test_cli_predict_combo_matrix_and_loo(cli):
    doc = json.loads(cli("predict-combo", "DP", "watermarking", "--json").stdout)
    assert doc["prediction"] == "conflict" and doc["agreement"] == "agree"
    rows = json.loads(cli("matrix", "--combos", "--json").stdout)
    assert len(rows) == 21
    loo = json.loads(cli("eval", "loo", "--combos", "--json").stdout)
    assert {"n", "covered", "correct", "accuracy", "coverage", "baselines"} <= set(loo)
    assert "Combinations" in cli("matrix", "--combos").output


def test_combos_never_import_torch():
    code = (
        "import sys, interplay;"
        "from interplay.interactions.combos import predict_all_combos; predict_all_combos(interplay.load_kb());"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# validate-combo: the composition of two defense plugins and the conflict judgment (these need torch)


def _tiny():
    from dataclasses import replace

    from interplay.validators.data import SyntheticFactors
    from interplay.validators.settings import default_settings

    return replace(default_settings("synthetic", "quick"), n_train=600, synthetic=SyntheticFactors(n_train=600))


def test_dp_and_adversarial_training_compose_in_one_model():
    pytest.importorskip("torch")
    from interplay.validators.combination import Combined
    from interplay.validators.settings import load_task

    s = _tiny()
    task = load_task(s, 0)
    d = Combined(s, task, "differential-privacy", "adversarial-training").deploy(task.train, 0)
    assert 0 < d.metadata["epsilon"] <= 2.0 + 1e-6 and d.metadata["eps"] == 0.25  # each part's default parameters
    assert not hasattr(d.model, "enable_hooks")  # the plain model, Opacus' wrapper closed


def _record(seed, scores, risk="evasion"):
    return {"seed": seed, "runtime_s": 1.0, **{
        arm: {"utility": 0.9, "metadata": {}, "risks": {risk: {"score": v, "raw": {}}} if v is not None else {}}
        for arm, v in scores.items()}}  # fmt: skip


@pytest.mark.parametrize(
    "combined,observed,verdict",
    [((0.50, 0.52, 0.49, 0.51), "conflict", "confirmed"),  # back to the baseline: effectiveness lost
     ((0.10, 0.11, 0.09, 0.10), "effective", "refuted"),  # the CI rules out a loss of min_effect
     ((0.10, 0.30, 0.02, 0.40), "inconclusive", "inconclusive")],
)  # fmt: skip
def test_conflict_is_a_significant_loss_of_effectiveness(combined, observed, verdict):
    pytest.importorskip("torch")
    from interplay.validators.combination import ComboConfig, summarize_combo
    from interplay.verdicts import combo_judge

    cfg = ComboConfig("adversarial-training", "group-fairness", _tiny(), ("evasion",), ())
    alone = (0.10, 0.12, 0.09, 0.11)
    records = [
        _record(i, {"baseline": 0.5 + i / 100, "a": alone[i], "b": None, "combined": c}) for i, c in enumerate(combined)
    ]
    judge = combo_judge({"adversarial-training": "conflict", "group-fairness": "effective", "pair": "conflict"})
    doc = judge(summarize_combo(cfg, records, 1.0))
    at, gf = doc["sides"]
    assert (at["observed"], at["verdict"], at["defense_effective"]) == (observed, verdict, True)
    assert gf["observed"] == "unmeasured" and gf["verdict"] == "inconclusive"
    assert doc["observed"] == ("conflict" if observed == "conflict" else "inconclusive")
    loss = at["effectiveness"]["evasion"]["loss"]
    assert loss["difference"] == pytest.approx(loss["defended"] - loss["baseline"])


def test_a_target_the_defense_does_not_protect_alone_is_reported_not_judged():
    pytest.importorskip("torch")
    from interplay.validators.combination import ComboConfig, summarize_combo
    from interplay.verdicts import combo_judge

    cfg = ComboConfig("differential-privacy", "group-fairness", _tiny(), ("membership-inference",), ())
    records = []
    for i in range(4):
        rec = _record(
            i,
            {"baseline": 0.60 + i / 100, "a": 0.52 + i / 200, "b": None, "combined": 0.52 + i / 200},
            "membership-inference",
        )
        for arm in ("baseline", "a", "combined"):  # DP alone no better than the baseline here
            rec[arm]["risks"]["data-reconstruction"] = {"score": 0.5 + i / 100, "raw": {}}
        records.append(rec)
    judge = combo_judge({"differential-privacy": "effective", "group-fairness": "effective", "pair": "compatible"})
    dp = judge(summarize_combo(cfg, records, 1.0))["sides"][0]
    assert dp["effectiveness"]["data-reconstruction"]["loss"]["observed"] == "not effective alone"
    assert (dp["observed"], dp["verdict"], dp["defense_effective"]) == ("effective", "confirmed", True)


def test_validate_combo_runs_stores_and_resumes(tmp_path):
    pytest.importorskip("torch")
    from interplay.validators.combination import ComboConfig, run_combo
    from interplay.validators.store import ResultStore
    from interplay.verdicts import combo_judge

    kb = load_kb()
    at, gf = (tuple(kb.defenses[d].targets) for d in ("adversarial-training", "group-fairness"))
    cfg = ComboConfig("adversarial-training", "group-fairness", _tiny(), at, gf)
    store = ResultStore(tmp_path / "r.sqlite")
    judge = combo_judge({"adversarial-training": "conflict", "group-fairness": "conflict", "pair": "conflict"})
    doc = run_combo(cfg, 2, judge, store)
    assert doc["defenses"] == ["adversarial-training", "group-fairness"] and doc["seeds"] == 2
    assert [set(s["effectiveness"]) for s in doc["sides"]] == [{"evasion"}, {"discrimination"}]
    assert doc["observed"] in ("conflict", "compatible", "inconclusive")
    assert {"baseline", "adversarial-training", "group-fairness", "combined"} <= set(doc["utility"])
    cached = []
    again = run_combo(cfg, 2, judge, store, lambda seed, hit: cached.append(hit))
    assert cached == [True, True] and again["sides"] == doc["sides"]


def test_seeds_measured_in_processes_are_those_of_one_process(tmp_path):
    """validate-combo measures missing seeds in several processes; each seed's record is the one a single
    process measures (DP-SGD's noise and sampling included), stored seeds are reused and reported first."""
    pytest.importorskip("torch")
    from dataclasses import replace

    from interplay.validators.combination import ComboConfig, measure_combo_seed, run_combo
    from interplay.validators.store import ResultStore
    from interplay.verdicts import combo_judge

    kb = load_kb()
    dp, gf = (tuple(kb.defenses[d].targets) for d in ("differential-privacy", "group-fairness"))
    s = _tiny()
    cfg = ComboConfig("differential-privacy", "group-fairness", replace(s, train=replace(s.train, epochs=5)), dp, gf)
    alone = {seed: json.loads(json.dumps(measure_combo_seed(cfg, seed))) for seed in (1, 2)}  # as stored
    store = ResultStore(tmp_path / "r.sqlite")
    store.save_run(cfg.hash(), 0, {**alone[1], "seed": 0})
    seen = []
    judge = combo_judge({"differential-privacy": "conflict", "group-fairness": "conflict", "pair": "conflict"})
    doc = run_combo(cfg, 3, judge, store, lambda seed, cached: seen.append((seed, cached)), workers=2)
    assert seen[0] == (0, True) and sorted(seen[1:]) == [(1, False), (2, False)]
    stored = store.runs(cfg.hash())
    for seed in (1, 2):
        assert stored[seed]["runtime_s"] > 0
        assert {**stored[seed], "runtime_s": 0} == {**alone[seed], "runtime_s": 0}
    assert doc["seed_list"] == [0, 1, 2]


def test_validate_combo_bad_input_exits_2(cli, monkeypatch):
    pytest.importorskip("torch")
    from interplay.validators.registry import DEFENSES

    monkeypatch.delitem(DEFENSES, "watermarking")
    for args, fragment in [
        (("DP", "watermarking"), "no validator plugin for defense 'watermarking'"),
        (("DP", "DP-SGD"), "two different defenses"),
        (("DP", "FD1", "--seeds", "1"), "at least 2"),
        (("DP", "FD1", "-c", "theft=copying"), "fine-tuning"),
        (("DP", "FD1", "-c", "colour=red"), "unknown context key"),
    ]:
        out = cli("validate-combo", *args)
        assert out.exit_code == 2 and fragment in out.output and "Traceback" not in out.output


def test_validate_combo_context_enters_the_settings(cli, monkeypatch, tmp_path):
    """--context selects the threat model of the combination's probes, as it does for validate."""
    pytest.importorskip("torch")
    import json

    from interplay.validators import settings

    tiny = _tiny()
    monkeypatch.setattr(settings, "default_settings", lambda dataset, preset="default": tiny)
    out = cli(
        "validate-combo",
        "FD1",
        "watermarking",
        "--seeds",
        "2",
        "--jobs",
        "1",
        "-c",
        "theft=fine-tuning",
        "--json",
        "--store",
        str(tmp_path / "s.sqlite"),
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["params"]["model-ownership"]["theft"] == "fine-tuning"
