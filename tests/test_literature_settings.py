"""Literature settings: a cell's declared facts compiled into a run, and the regimes set on the baseline alone."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from interplay.validators import fashion_mnist  # noqa: E402
from interplay.validators.calibration import PILOT_SEEDS  # noqa: E402
from interplay.validators.defenses.base import DefensePlugin  # noqa: E402
from interplay.validators.experiment import ValidationConfig, in_regime  # noqa: E402
from interplay.validators.literature import SettingError, compile_setting  # noqa: E402
from interplay.validators.regimes import PRIVACY_GRID, UnknownRegime, apply_regime  # noqa: E402
from interplay.validators.registry import UnknownMetric  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402

TINY = default_settings("synthetic", "tiny")


def fact(value: str) -> dict:
    return {"value": value, "ref": "some2020paper", "locator": "abstract"}


def test_declared_facts_set_the_data_the_attack_the_notion_the_metric_and_the_threat_route():
    run = compile_setting(
        {"attack": fact("availability"), "fairness": fact("equalized-odds"), "data": fact("image")},
        "group-fairness",
        "poisoning",
    )
    assert run.dataset == "fashion-mnist" and run.regime is None
    assert set(run.overrides) == {("poisoning", "kind", "label-flip"), ("group-fairness", "notion", "equalized-odds")}
    theft = compile_setting({"threat": {"theft": fact("extraction")}}, "adversarial-training", "model-ownership")
    assert theft.overrides == (("model-ownership", "theft", "extraction"),)
    label = compile_setting({"threat": {"outputs": fact("label")}}, "group-fairness", "attribute-inference")
    assert label.overrides == (("attribute-inference", "outputs", "label"),) and label.regime == "privacy"
    onion = compile_setting(
        {"removal": fact("membership"), "metric": fact("tpr_at_1pct_fpr")}, "outlier-removal", "membership-inference"
    )
    assert onion.overrides == (("outlier-removal", "criterion", "membership"),) and onion.metric == "tpr_at_1pct_fpr"


def test_a_subgroup_restricts_the_metric_and_implies_the_disparity_regime():
    run = compile_setting({"subgroup": fact("unprivileged")}, "group-fairness", "membership-inference")
    assert (run.metric, run.regime) == ("auc_s1", "disparity")
    assert compile_setting({}, "differential-privacy", "membership-inference").regime == "privacy"  # the column's
    assert compile_setting({}, "differential-privacy", "evasion") == compile_setting({}, "x", "evasion")


def test_a_setting_that_does_not_fit_its_cell_is_refused():
    with pytest.raises(UnknownMetric, match="choose from"):
        compile_setting({"metric": fact("no_such_metric")}, "differential-privacy", "discrimination")
    with pytest.raises(SettingError, match="for outlier removal"):
        compile_setting({"removal": fact("membership")}, "differential-privacy", "membership-inference")
    with pytest.raises(SettingError, match="poisoning cells only"):
        compile_setting({"attack": fact("availability")}, "differential-privacy", "evasion")
    with pytest.raises(UnknownRegime):
        ValidationConfig("differential-privacy", "evasion", TINY, regime="tropical")


def test_the_disparity_regime_shrinks_the_minority_without_training():
    settings, record = apply_regime(TINY, "disparity", lambda *a: pytest.fail("no pilot needed"))
    assert settings.synthetic.minority_frac == 0.1 and record["minority_frac"] == 0.1
    digits = default_settings("digits", "tiny")
    unchanged, record = apply_regime(digits, "disparity", lambda *a: pytest.fail("no pilot needed"))
    assert unchanged == digits and record["applied"] is False


def test_the_privacy_regime_trains_the_baseline_alone_on_pilot_seeds_until_it_memorizes(pilot_spy):
    deployed, seeds = pilot_spy
    small = replace(TINY, train=replace(TINY.train, epochs=2))
    cfg, record = in_regime(ValidationConfig("differential-privacy", "membership-inference", small, regime="privacy"))
    assert set(deployed) == {DefensePlugin} and set(seeds) <= set(PILOT_SEEDS)
    chosen = tuple(record["value"])
    assert chosen in PRIVACY_GRID and (cfg.settings.train.capacity, cfg.settings.train.epochs) == chosen
    assert record["in_band"] == (record["baseline_score"] >= 0.99)
    assert not any(w["score"] >= 0.99 for w in record["walked"][:-1])  # it stops at the first that memorizes


def test_the_kb_vocabularies_are_the_ones_the_validators_compile():
    from interplay.kb.schema import SETTING_VOCABULARY, THREAT_VOCABULARY
    from interplay.validators.defenses.group_fairness import NOTIONS
    from interplay.validators.defenses.outlier_removal import CRITERIA
    from interplay.validators.literature import ATTACKS, DATA_KINDS, SUBGROUPS
    from interplay.validators.params import describe
    from interplay.validators.regimes import REGIMES
    from interplay.validators.registry import DEFENSES, RISKS

    assert set(DATA_KINDS) == set(SETTING_VOCABULARY["data"]) and set(ATTACKS) == set(SETTING_VOCABULARY["attack"])
    assert set(SUBGROUPS) == set(SETTING_VOCABULARY["subgroup"]) and set(REGIMES) == set(SETTING_VOCABULARY["regime"])
    assert set(NOTIONS) == set(SETTING_VOCABULARY["fairness"]) and set(CRITERIA) == set(SETTING_VOCABULARY["removal"])
    rows = [row for cls in [*DEFENSES.values(), *RISKS.values()] for row in describe(cls.Params)]
    contexts = {row["context"]: set(row["choices"]) - {"any"} for row in rows if row["context"]}
    assert all(set(values) == contexts[key] for key, values in THREAT_VOCABULARY.items())


@pytest.mark.skipif(
    not fashion_mnist.installed(), reason="an image cell reads Debian's Fashion-MNIST (dataset-fashion-mnist)"
)
def test_a_literature_cell_runs_under_its_declared_facts_and_says_so(tmp_path):
    import interplay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus and Captum
        m = interplay.validate_matrix(
            defenses=["group-fairness"], risks=["poisoning", "evasion"], preset="tiny", seeds=2,
            store=tmp_path / "s.db", setting="literature",
        )  # fmt: skip
    evasion, poisoning = (c.to_dict() for c in m.cells)  # the KB's order of risks
    assert poisoning["effect"]["metric"] == "accuracy_drop" and poisoning["params"]["poisoning"]["kind"] == "label-flip"
    assert poisoning["params"]["group-fairness"]["notion"] == "equalized-odds"
    assert poisoning["setting"]["name"] == "literature" and poisoning["setting"]["facts"]["attack"]["locator"]
    assert evasion["dataset"] == "fashion-mnist" and evasion["setting"]["facts"]["data"]["value"] == "image"
    generic = interplay.validate(
        "group-fairness", "poisoning", preset="tiny", seeds=2, store=tmp_path / "s.db", setting="generic"
    ).to_dict()
    assert generic["setting"] == {"name": "generic"} and generic["effect"]["metric"] == "attack_success_rate"
    assert generic["config_hash"] != poisoning["config_hash"]


def test_a_sweep_under_the_literature_setting_keeps_the_regime_and_varies_the_factor_on_top(tmp_path):
    import interplay
    from interplay.validators.store import ResultStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sweep = interplay.sweep(
            "DP", "discrimination", "D2", "0.05,0.2", preset="tiny", seeds=2, store=tmp_path / "s.db",
            setting="literature",
        ).to_dict()  # fmt: skip
    assert [p["effect"]["metric"] for p in sweep["points"]] == ["accuracy_gap"] * 2  # Bagdasaryan's metric
    docs = {d["config_hash"]: d for d in ResultStore(tmp_path / "s.db").validations()}
    for point, frac in zip(sweep["points"], (0.05, 0.2), strict=True):
        doc = docs[point["config_hash"]]
        assert doc["setting"]["name"] == "literature" and doc["regime"]["regime"] == "disparity"
        assert doc["settings"]["synthetic"]["minority_frac"] == frac  # the swept value, over the regime's 0.1
