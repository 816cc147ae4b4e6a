"""Literature settings on observations: declared facts only, from closed vocabularies, each cited and located."""

import dataclasses

import pytest

from interplay.kb import KBError, load_kb
from interplay.kb.schema import NUMERIC_KNOB, SETTING_VOCABULARY, THREAT_VOCABULARY, LiteratureSetting

ENCODED = {  # cell -> the facts observations.yaml declares, as (field, value, ref, locator)
    "adversarial-training/poisoning": {
        ("attack", "availability", "wen2023adversarial", "abstract"),
        ("metric", "accuracy_drop", "wen2023adversarial", "abstract"),
    },
    "adversarial-training/model-ownership": {
        ("threat.theft", "extraction", "khaled2022careful", "title"),
        ("metric", "low_budget_extraction_fidelity", "khaled2022careful", "abstract"),
    },
    "adversarial-training/membership-inference": {
        ("data", "image", "song2019privacy", "experimental evaluation (Yale Face, Fashion-MNIST, CIFAR10)")
    },
    "adversarial-training/data-reconstruction": {("data", "image", "mejia2019robust", "abstract")},
    "adversarial-training/discrimination": {
        ("metric", "robust_accuracy_gap", "ma2022tradeoff", "abstract"),
        ("data", "image", "benz2021robustness", "abstract"),
    },
    "outlier-removal/membership-inference": {
        ("regime", "privacy", "carlini2022privacy", "abstract"),
        ("removal", "membership", "carlini2022privacy", "abstract"),
        ("metric", "tpr_at_1pct_fpr", "carlini2022privacy", "abstract"),
    },
    "group-fairness/attribute-inference": {("threat.outputs", "label", "aalmoes2022alignment", "abstract")},
    "differential-privacy/discrimination": {
        ("metric", "accuracy_gap", "bagdasaryan2019differential", "abstract"),
        ("regime", "disparity", "bagdasaryan2019differential", "abstract"),
    },
    "group-fairness/evasion": {("data", "image", "tran2022fairness", "abstract")},
    "group-fairness/poisoning": {
        ("metric", "accuracy_drop", "chang2020adversarial", "abstract"),
        ("attack", "availability", "chang2020adversarial", "abstract"),
        ("fairness", "equalized-odds", "chang2020adversarial", "abstract"),
    },
    "group-fairness/membership-inference": {
        ("subgroup", "unprivileged", "chang2021privacy", "abstract"),
        ("fairness", "equalized-odds", "chang2021privacy", "abstract"),
        ("regime", "disparity", "chang2021privacy", "abstract"),
    },
    "explanations/evasion": {("metric", "blackbox_released_success_rate", "quan2022amplification", "abstract")},
    "explanations/model-ownership": {
        ("metric", "low_budget_released_extraction_fidelity", "aivodji2020model", "abstract")
    },
}
FILE = "observations.yaml"
CELL = "differential-privacy/discrimination"
METRIC = "    metric:\n      value: accuracy_gap\n      ref: bagdasaryan2019differential\n      locator: abstract\n"


def _declared(kb) -> dict[str, set[tuple[str, str, str, str]]]:
    return {
        o.id: {(name, f.value, f.ref, f.locator) for name, f in o.setting.facts()}
        for o in kb.observations
        if o.setting is not None
    }


def test_builtin_kb_declares_the_encoded_settings(kb):
    declared = _declared(kb)
    assert len(declared) >= len(ENCODED) == 13
    for cell, facts in ENCODED.items():
        assert facts <= declared[cell], cell


def test_every_fact_is_cited_by_its_cell_and_drawn_from_a_vocabulary(kb):
    for o in kb.observations:
        if o.setting is None:
            continue
        own = {*o.refs, *(r for x in o.exceptions for r in x.refs)}
        for name, fact in o.setting.facts():
            assert fact.ref in own and fact.ref in kb.references and fact.locator.strip(), (o.id, name)
            head, _, key = name.partition(".")
            if head == "threat":
                assert fact.value in THREAT_VOCABULARY[key], (o.id, name)
            elif head != "metric":
                assert fact.value in SETTING_VOCABULARY[head], (o.id, name)


def test_the_reasoner_never_reads_settings(kb):
    from interplay.interactions import predict_all

    stripped = dataclasses.replace(kb, observations=[o.model_copy(update={"setting": None}) for o in kb.observations])
    assert [p.to_dict() for p in predict_all(kb)] == [p.to_dict() for p in predict_all(stripped)]


def _edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def _rejected(kb_copy, old: str, new: str, field: str, *fragments: str) -> str:
    """Edit the copy's observations and check that loading it fails naming the file, the cell, the field and why."""
    _edit(kb_copy / FILE, old, new)
    with pytest.raises(KBError) as exc:
        load_kb(kb_copy)
    located = [p for p in exc.value.problems if p.object_id == CELL and p.field == field]
    assert located and all(p.file.endswith(FILE) for p in located), exc.value.problems
    for fragment in fragments:
        assert fragment in located[0].reason, (fragment, located[0].reason)
    return located[0].reason


def test_unknown_setting_field_is_rejected(kb_copy):
    _rejected(
        kb_copy, "  setting:\n" + METRIC, "  setting:\n    epochs: 100\n" + METRIC, "setting", "unknown setting field",
        "'epochs'", NUMERIC_KNOB,
    )  # fmt: skip


def test_unknown_fact_field_is_rejected(kb_copy):
    _rejected(kb_copy, METRIC, METRIC + "      epochs: 100\n", "setting.metric.epochs", "Extra inputs")


@pytest.mark.parametrize("value", ["'0.05'", "0.05", "100", "1e-3"])
def test_numeric_value_is_rejected(kb_copy, value):
    new = METRIC.replace("value: accuracy_gap", f"value: {value}")
    _rejected(kb_copy, METRIC, new, "setting.metric.value", "is a number", NUMERIC_KNOB)


def test_value_outside_the_vocabulary_is_rejected(kb_copy):
    _rejected(
        kb_copy, "      value: disparity\n      ref: bagdasaryan2019differential",
        "      value: memorization\n      ref: bagdasaryan2019differential", "setting.regime",
        "unknown regime 'memorization'", "privacy, disparity",
    )  # fmt: skip


def test_metric_must_be_a_name(kb_copy):
    new = METRIC.replace("value: accuracy_gap", "value: accuracy gap at eps 8/255")
    _rejected(kb_copy, METRIC, new, "setting.metric", "is not a metric name")


THREAT = "    threat:\n      {key}:\n        value: {value}\n"
THREAT += "        ref: bagdasaryan2019differential\n        locator: abstract\n"


def test_unknown_threat_key_is_rejected(kb_copy):
    new = METRIC + THREAT.format(key="budget", value="low")
    _rejected(kb_copy, METRIC, new, "setting.threat", "unknown threat key 'budget'", "adversary, theft, outputs")


def test_threat_value_outside_the_vocabulary_is_rejected(kb_copy):
    new = METRIC + THREAT.format(key="theft", value="distillation")
    _rejected(kb_copy, METRIC, new, "setting.threat", "unknown threat.theft 'distillation'", "extraction, fine-tuning")


def test_fact_citing_a_paper_the_cell_does_not_cite_is_rejected(kb_copy):
    reason = _rejected(
        kb_copy, METRIC, METRIC.replace("bagdasaryan2019differential", "chang2021privacy"), "setting.metric.ref",
        "reference 'chang2021privacy' is not among the observation's refs",
    )  # fmt: skip
    assert reason.startswith("reference ")


def test_fact_citing_an_unknown_reference_is_rejected(kb_copy):
    new = METRIC.replace("bagdasaryan2019differential", "nobody2099")
    _rejected(kb_copy, METRIC, new, "setting.metric.ref", "unknown reference 'nobody2099'")


def test_fact_needs_a_locator(kb_copy):
    _rejected(kb_copy, METRIC, METRIC.replace("      locator: abstract\n", ""), "setting.metric.locator", "required")


def test_empty_setting_is_rejected(kb_copy):
    block = "  setting:\n" + METRIC + "    regime:\n      value: disparity\n"
    block += "      ref: bagdasaryan2019differential\n      locator: abstract\n"
    _rejected(kb_copy, block, "  setting: {}\n", "setting", "at least one fact")


def test_fact_may_cite_an_exceptions_reference(kb_copy):
    old = "        ref: khaled2022careful\n        locator: title\n"
    new = old + "      adversary:\n        value: malicious-accuser\n"
    new += "        ref: liu2024false\n        locator: Sec. 1\n"
    _edit(kb_copy / FILE, old, new)
    obs = load_kb(kb_copy).observation("adversarial-training", "model-ownership")
    assert obs.setting.threat["adversary"].ref == "liu2024false"


def test_setting_facts_order_and_names():
    setting = LiteratureSetting.model_validate(
        {
            "regime": {"value": "privacy", "ref": "r", "locator": "abstract"},
            "threat": {"theft": {"value": "extraction", "ref": "r", "locator": "Sec. 4"}},
            "metric": {"value": "auc", "ref": "r", "locator": "Table 2"},
        }
    )
    assert [name for name, _ in setting.facts()] == ["metric", "threat.theft", "regime"]


def test_every_declared_setting_compiles_for_its_cell(kb):
    """Each cell's facts name a metric its probe reports, an attack its probe runs, and so on."""
    from interplay.validators.literature import compile_setting

    declared = [o for o in kb.observations if o.setting]
    assert declared
    for o in declared:
        run = compile_setting(o.setting.model_dump(exclude_none=True), o.defense, o.risk)
        assert run.facts and (run.metric or run.overrides or run.dataset or run.regime), o.id
