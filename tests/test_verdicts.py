"""The verdict rule's statistics: the smallest effect of interest from the baseline's headroom, equivalence vs
underpowered, not-applicable cells, Benjamini-Hochberg across a matrix, and the accounting. Torch-free."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from interplay.validators.stats import Scale, evidence, min_effect_band, paired_effect
from interplay.verdicts import (
    accounting,
    accounting_line,
    adjust_for_multiplicity,
    benjamini_hochberg,
    classify,
    judged,
    validation_judge,
)


def test_the_smallest_effect_is_a_tenth_of_the_headroom_in_the_direction_of_the_change():
    down, up = min_effect_band(0.99, Scale(0.0, 1.0))  # a backdoor at its ceiling: a large decrease, a small increase
    assert down == pytest.approx(0.099) and up == 0.01
    assert min_effect_band(0.52, Scale(0.5)) == (0.01, pytest.approx(0.048))  # near chance: the floor to go down
    down, up = min_effect_band(0.95, Scale(0.0, 1.0))  # ownership fidelity near its ceiling can still increase
    assert up == 0.01 < down == pytest.approx(0.095)
    assert min_effect_band(0.3, Scale(0.5)) == (0.01, pytest.approx(0.07))  # below chance: no room to decrease
    assert min_effect_band(0.2, Scale(0.0, 0.5))[1] == pytest.approx(0.03)  # a ceiling below 1 (an AUC advantage)


def test_a_tpr_at_a_fixed_fpr_is_read_as_a_ratio():
    """A share of the log headroom, and a floor of a tenth of the chance level: a four-fold rise of TPR at 1% FPR
    from 0.0026 is an effect of interest, which the 0.01 floor of the other scores would have hidden."""
    scale = Scale(0.01, 1.0, ratio=True)
    down, up = min_effect_band(0.0026, scale)
    assert down == pytest.approx(0.001)  # below chance: the floor
    assert up == pytest.approx(0.0026 * ((1 / 0.0026) ** 0.1 - 1))
    assert classify(0.001, 0.0108 - 0.0026, [0.004, 0.012], (down, up)) == ("increase", "significant")
    assert min_effect_band(0.0, scale) == (pytest.approx(0.001), pytest.approx(0.001))
    down, up = min_effect_band(0.1, scale)
    assert down == pytest.approx(0.1 * (1 - 0.1**0.1)) and up == pytest.approx(0.1 * (10**0.1 - 1))


def test_a_significant_effect_below_the_effect_of_interest_is_small():
    assert classify(0.002, 0.0087, [0.0045, 0.0129], (0.095, 0.01)) == ("none", "small")
    assert classify(0.002, 0.0087, [0.0045, 0.0129], (0.095, 0.005)) == ("increase", "significant")
    assert classify(0.2, 0.0087, [-0.004, 0.0129], (0.095, 0.01)) == ("none", "underpowered")
    assert classify(0.2, 0.0007, [-0.004, 0.005], (0.095, 0.01)) == ("none", "equivalent")


def test_no_effect_is_equivalent_only_when_the_ci_excludes_an_effect_of_interest():
    tight = paired_effect([0.50, 0.51, 0.52, 0.50], [0.501, 0.511, 0.519, 0.502])
    wide = paired_effect([0.50, 0.60, 0.40, 0.55], [0.52, 0.55, 0.45, 0.50])
    assert evidence(tight, 0.01) == "equivalent" and evidence(wide, 0.01) == "underpowered"
    assert evidence(paired_effect([0.5, 0.51, 0.52, 0.5], [0.6, 0.61, 0.63, 0.6]), 0.01) == "significant"
    assert 0 < tight.mde < wide.mde and 0 <= wide.wilcoxon_p <= 1


def test_identical_models_that_add_nothing_the_probe_reads_are_not_applicable():
    doc = {
        "defense": "d",
        "risk": "r",
        "observed": "none",
        "applicable": False,
        "defense_effective": None,
        "effect": {"ci95": [0.0, 0.0], "min_effect": 0.01, "p_value": 1.0},
    }
    assert judged("increase", doc) == "not-applicable"  # never "refuted", whatever was predicted
    assert validation_judge("decrease")(doc)["verdict"] == "not-applicable"
    assert judged("increase", doc | {"applicable": True}) == "refuted"  # what the rule said before


def test_benjamini_hochberg_matches_scipy():
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    p = np.random.default_rng(0).uniform(0, 0.2, 56)
    assert benjamini_hochberg(list(p)) == pytest.approx(list(false_discovery_control(p)))


def _doc(p, diff, literature="increase", prediction="increase"):
    return {
        "prediction": prediction,
        "literature": literature,
        "observed": "increase" if diff > 0 else "decrease",
        "defense_effective": True,
        "applicable": True,
        "effect": {"p_value": p, "difference": diff, "ci95": [diff - 0.01, diff + 0.01], "min_effect": 0.01},
    }


def test_the_matrix_decides_directions_by_q_and_rejudges():
    docs = [_doc(0.001, 0.05), _doc(0.04, 0.05), *(_doc(0.5, 0.001) for _ in range(8))]
    for d in docs[2:]:
        d["observed"], d["effect"]["ci95"] = "none", [-0.004, 0.006]
    adjust_for_multiplicity(docs)
    assert docs[0]["effect"]["q_value"] == pytest.approx(0.01) and docs[0]["verdict"] == "confirmed"
    assert docs[1]["effect"]["q_value"] == pytest.approx(0.2) and docs[1]["observed"] == "none"
    assert docs[1]["effect"]["evidence"] == "underpowered" and docs[1]["verdict"] == "inconclusive"
    assert all(d["effect"]["evidence"] == "equivalent" for d in docs[2:])
    untouched = {"verdict": "not registered", "observed": None}
    adjust_for_multiplicity([untouched])
    assert untouched == {"verdict": "not registered", "observed": None}


def test_the_accounting_separates_reported_from_unexplored_cells():
    records = [
        {"literature": "increase", "observed": "increase", "verdict": "confirmed", "effect": {}},
        {"literature": "decrease", "observed": "increase", "verdict": "refuted", "effect": {}},
        {"literature": "increase", "observed": "none", "verdict": "refuted", "effect": {"evidence": "equivalent"}},
        {"literature": "increase", "observed": "none", "verdict": "not-applicable", "effect": {}},
        {"literature": "unexplored", "observed": "decrease", "verdict": "inconclusive", "effect": {}},
        {
            "literature": "unexplored",
            "observed": "none",
            "verdict": "inconclusive",
            "validation": {"effect": {"evidence": "underpowered"}},
        },
        {"literature": "increase", "observed": None, "verdict": "not validated"},
    ]
    records.append(
        {
            "literature": "decrease",
            "observed": "none",
            "verdict": "inconclusive",
            "effect": {"evidence": "small", "difference": -0.004},
        }
    )
    assert accounting(records) == {
        "directed": {"agree": 1, "disagree": 1, "equivalent": 1, "not-applicable": 1, "not run": 1, "small": 1},
        "unexplored": {"significant": 1, "underpowered": 1},
        "direction": {"agree": 2, "disagree": 1},  # the small decrease agrees in direction
    }
    assert "direction (significant, any size): 2 agree, 1 disagree" in accounting_line(records)
