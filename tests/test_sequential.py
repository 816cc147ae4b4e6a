"""Sequential seeds (``--seeds auto``): the stopping rule's error rate under the null, its looks, and a validation
and a matrix that stop when decided, reusing a fixed run's seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st

from interplay.validators.sequential import GROUP, decision, looks, sequential_effect
from interplay.verdicts import ALPHA


def test_looks_are_groups_of_eight_up_to_the_budget():
    assert looks(32) == [8, 16, 24, 32] and looks(20) == [8, 16, 20] and looks(5) == [5] and looks(8) == [8]
    with pytest.raises(ValueError, match="not a look"):
        sequential_effect([0.0] * 12, [0.0] * 12, 32)


def _run(rng: np.random.Generator, shift: float, max_seeds: int, band=(0.3, 0.3)) -> tuple[str | None, float, int]:
    """One simulated cell: paired scores with a true mean difference ``shift`` (SD 1), looked at as ``validate``
    looks; the stopping reason, the sequential p-value and the seeds used."""
    baseline, defended = rng.normal(0, 1, max_seeds), rng.normal(shift, 1, max_seeds) + 0.0
    for n in looks(max_seeds):
        e, _ = sequential_effect(list(baseline[:n]), list(defended[:n]), max_seeds)
        effect = {"p_value": e.p_value, "difference": e.difference, "ci95": e.ci95, "min_effect_band": band, "n": n}
        stopped = decision(effect, max_seeds)
        if stopped:
            return stopped, e.p_value, n
    raise AssertionError("the budget always stops a cell")


def test_the_stopping_rule_keeps_its_false_positive_rate_under_the_null():
    """600 seeded null cells, up to 32 seeds with looks every 8: the rate of significant cells (p < 0.05 at the
    stopping look, whatever the effect's size) stays at or below 5%, while testing each look at 0.05, the naive
    peeking the rule replaces, exceeds it."""
    rng = np.random.default_rng(20261207)
    runs = [_run(rng, 0.0, 32) for _ in range(600)]
    false_positives = np.mean([p < ALPHA for _, p, _ in runs])
    assert false_positives <= ALPHA  # 0.035 with this seed; Bonferroni over looks is conservative
    rng = np.random.default_rng(20261207)
    naive = 0
    for _ in range(600):
        b, d = rng.normal(0, 1, 32), rng.normal(0, 1, 32)
        naive += any(st.ttest_rel(d[:n], b[:n]).pvalue < ALPHA for n in looks(32))
    assert naive / 600 > 0.08
    assert {reason for reason, _, _ in runs} <= {"significant", "small", "equivalent", "budget"}


def test_a_large_effect_stops_early_and_no_effect_ends_equivalent_or_at_the_budget():
    rng = np.random.default_rng(3)
    reason, p, n = _run(rng, 2.0, 32)
    assert reason == "significant" and n <= 16 and p < ALPHA
    outcomes = [_run(rng, 0.0, 64, band=(0.8, 0.8)) for _ in range(50)]
    assert sum(reason == "equivalent" for reason, _, _ in outcomes) >= 40  # a wide band: equivalence decided
    assert all(n % GROUP == 0 for _, _, n in outcomes)


def test_a_validation_runs_seed_groups_until_decided_and_reuses_a_fixed_runs_seeds(tmp_path):
    pytest.importorskip("torch")
    import interplay

    store = tmp_path / "s.sqlite"
    fixed = interplay.validate("outlier-removal", "MIA", preset="tiny", seeds=8, store=store)
    auto = interplay.validate(
        "outlier-removal", "MIA", preset="tiny", seeds="auto", max_seeds=10, store=store
    ).to_dict()
    sequential = auto["sequential"]
    assert sequential["looks"][0] == 8 and sequential["max_seeds"] == 10
    assert sequential["stopped"] in ("significant", "small", "equivalent", "budget")
    assert auto["seeds"] == sequential["seeds_used"] == sequential["looks"][-1]
    assert sequential["look_p_values"][0] == pytest.approx(fixed.effect.p_value)  # the first look is the fixed run
    assert auto["effect"]["p_value"] >= fixed.effect.p_value  # a look spends only part of the error rate
    if sequential["stopped"] == "budget":
        assert auto["seeds"] == 10


def test_a_matrix_runs_look_by_look_and_stops_each_cell_on_its_own(tmp_path):
    pytest.importorskip("torch")
    import interplay

    m = interplay.validate_matrix(
        defenses="outlier-removal,group-fairness",
        risks="MIA",
        preset="tiny",
        seeds="auto",
        max_seeds=12,
        store=tmp_path / "s.sqlite",
    ).to_dict()
    assert len(m) == 2
    for record in m:
        assert record["sequential"]["seeds_used"] in (8, 12) and record["seeds"] == record["sequential"]["seeds_used"]
        if record["sequential"]["stopped"] == "budget":  # a cell may also be decided at the last look
            assert record["seeds"] == 12
        else:
            assert record["sequential"]["stopped"] in ("significant", "small", "equivalent")
        assert "q_value" in record["effect"]
