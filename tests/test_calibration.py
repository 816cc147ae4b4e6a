"""Headroom calibration: a probe's knob set by the baseline arm alone, on pilot seeds, by a rule fixed in advance."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from interplay.validators.calibration import _PILOTS, PILOT_SEEDS, Headroom, calibrate  # noqa: E402
from interplay.validators.defenses.base import DefensePlugin  # noqa: E402
from interplay.validators.experiment import ValidationConfig, calibrated, run_validation  # noqa: E402
from interplay.validators.params import param  # noqa: E402
from interplay.validators.risks.poisoning import Poisoning  # noqa: E402
from interplay.validators.settings import MAX_SEEDS, default_settings, load_task  # noqa: E402
from interplay.validators.store import ResultStore  # noqa: E402
from interplay.verdicts import validation_judge  # noqa: E402

TINY = default_settings("synthetic", "tiny")


@dataclass(frozen=True)
class _Params:
    strength: float = param(1.0, "attack strength")


class _Probe:
    slug = "fake-probe"
    Params = _Params
    dataset_defaults: dict = {}

    @classmethod
    def headroom_for(cls, settings):
        return Headroom("strength", (0.1, 0.2, 0.4, 0.8), (0.4, 0.6))


def _score(table):
    calls = []

    def score(slug, settings, seed):
        calls.append((slug, settings.params_for(_Probe).strength, seed))
        return table[settings.params_for(_Probe).strength] + (seed - PILOT_SEEDS[0]) * 0.01

    return score, calls


@pytest.fixture(autouse=True)
def _fresh_memo():
    _PILOTS.clear()


def test_the_rule_keeps_the_first_value_whose_baseline_reaches_the_band_and_records_the_walk():
    score, calls = _score({0.1: 0.1, 0.2: 0.3, 0.4: 0.5, 0.8: 0.9})
    settings, records = calibrate(replace(TINY, calibrate=True), [_Probe], score)
    assert settings.params_for(_Probe).strength == 0.4
    record = records["fake-probe"]
    assert record["in_band"] and record["baseline_score"] == pytest.approx(0.535)
    assert 0.4 <= record["lower_bound"] < record["baseline_score"]
    assert [w["value"] for w in record["walked"]] == [0.1, 0.2, 0.4]  # stops at the first in reach
    assert {seed for *_, seed in calls} == set(PILOT_SEEDS) and len(calls) == 3 * len(PILOT_SEEDS) == 24


def test_one_lucky_pilot_seed_does_not_choose_a_knob_that_leaves_the_baseline_below_the_band():
    """A noisy synthetic probe (SD 0.15 per seed, like distribution inference's AUC on few victims): the weakest
    value's true mean, 0.55, lies below the band (0.65), the next one's, 0.72, inside it. Over 200 draws of the pilot
    scores the rule keeps the weak value in at most 5% of them (it is a one-sided 95% bound), where the mean of
    three pilots, the rule before, kept it in about a fifth."""
    rng = np.random.default_rng(7)
    truth = {0.1: 0.55, 0.2: 0.72, 0.4: 0.85, 0.8: 0.95}
    weak_kept, old_rule_weak = 0, 0
    for draw in range(200):
        noise = {(v, seed): rng.normal(0, 0.15) for v in truth for seed in PILOT_SEEDS}

        def score(slug, settings, seed, noise=noise):
            v = settings.params_for(_Probe).strength
            return truth[v] + noise[v, seed]

        _, records = calibrate(replace(TINY, calibrate=True), [_NoisyProbe], score, context={"draw": draw})
        weak_kept += records["fake-probe"]["value"] == 0.1
        old_rule_weak += np.mean([truth[0.1] + noise[0.1, seed] for seed in PILOT_SEEDS[:3]]) >= 0.65
    assert weak_kept <= 10
    assert old_rule_weak >= 25  # the winner's curse the bound guards against


class _NoisyProbe(_Probe):
    @classmethod
    def headroom_for(cls, settings):
        return Headroom("strength", (0.1, 0.2, 0.4, 0.8), (0.65, 0.8))


def test_a_grid_that_jumps_over_the_band_or_never_reaches_it_says_so():
    score, _ = _score({0.1: 0.1, 0.2: 0.7, 0.4: 0.9, 0.8: 0.95})
    _, records = calibrate(replace(TINY, calibrate=True), [_Probe], score)
    assert records["fake-probe"]["value"] == 0.2 and not records["fake-probe"]["in_band"]
    _PILOTS.clear()
    score, _ = _score(dict.fromkeys((0.1, 0.2, 0.4, 0.8), 0.0))
    settings, records = calibrate(replace(TINY, calibrate=True), [_Probe], score)
    assert settings.params_for(_Probe).strength == 0.8 and not records["fake-probe"]["in_band"]


def test_a_value_the_user_set_and_the_tiny_preset_are_not_calibrated():
    score, calls = _score({})
    user = replace(TINY, calibrate=True).with_params("fake-probe", strength=0.3)
    assert calibrate(user, [_Probe], score) == (user, {})
    assert calibrate(TINY, [_Probe], score) == (TINY, {}) and not calls


def test_pilot_scores_are_stored_so_a_resumed_run_does_not_train_them_again(tmp_path):
    store = ResultStore(tmp_path / "s.db")
    score, calls = _score({0.1: 0.1, 0.2: 0.5, 0.4: 0.5, 0.8: 0.5})
    first = calibrate(replace(TINY, calibrate=True), [_Probe], score, store)
    _PILOTS.clear()
    assert calibrate(replace(TINY, calibrate=True), [_Probe], score, store) == first
    assert len(calls) == 2 * len(PILOT_SEEDS)


def test_pilot_scores_this_process_knows_are_written_to_a_store_that_lacks_them(tmp_path):
    score, calls = _score({0.1: 0.1, 0.2: 0.5, 0.4: 0.5, 0.8: 0.5})
    first = calibrate(replace(TINY, calibrate=True), [_Probe], score, ResultStore(tmp_path / "a.db"))
    other = ResultStore(tmp_path / "b.db")
    assert calibrate(replace(TINY, calibrate=True), [_Probe], score, other) == first
    assert len(calls) == 2 * len(PILOT_SEEDS)
    _PILOTS.clear()
    assert calibrate(replace(TINY, calibrate=True), [_Probe], score, other) == first
    assert len(calls) == 2 * len(PILOT_SEEDS)


def test_pilot_seeds_are_disjoint_from_every_evaluation_seed():
    assert min(PILOT_SEEDS) >= MAX_SEEDS


def test_calibration_trains_only_the_baseline_on_pilot_seeds(pilot_spy):
    deployed, seeds = pilot_spy
    settings, records = calibrated(replace(TINY, calibrate=True), ["poisoning"])
    assert set(deployed) == {DefensePlugin} and set(seeds) <= set(PILOT_SEEDS)
    walked = records["poisoning"]["walked"]
    assert settings.params_for(Poisoning).frac == walked[-1]["value"] == records["poisoning"]["value"]


def test_a_validation_records_its_calibration_and_runs_under_the_calibrated_value(tmp_path):
    cfg = ValidationConfig("outlier-removal", "poisoning", replace(TINY, calibrate=True))
    doc = run_validation(cfg, 2, validation_judge(None), ResultStore(tmp_path / "s.db"))
    record = doc["calibration"]["poisoning"]
    assert doc["params"]["poisoning"]["frac"] == record["value"] and record["pilot_seeds"] == list(PILOT_SEEDS)
    assert all(r["baseline"]["poison_frac"] == record["value"] for r in [doc["raw"]])


def test_label_flipping_scores_the_clean_accuracy_drop_against_the_same_recipe_on_clean_data():
    settings = TINY.with_params("poisoning", kind="label-flip", flip_frac=0.4)
    task = load_task(settings, 0)
    probe = Poisoning(settings, task)
    assert Poisoning.metric_for(settings) == "accuracy_drop" and Poisoning.headroom_for(settings) is None
    poisoned = probe.alter_training_data(task.train, 0)
    assert (poisoned.y != task.train.y).float().mean().item() == pytest.approx(0.4, abs=0.01)
    m = probe.measure(DefensePlugin(settings, task).deploy(poisoned, 0), poisoned, 0)
    assert m.score == pytest.approx(m.raw["unpoisoned_accuracy"] - m.raw["clean_accuracy"]) and m.score > 0.02
