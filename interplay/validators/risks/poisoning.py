"""Poisoning: a backdoor (BadNets, Gu et al. 2017). The adversary stamps its trigger onto a share
``frac`` of the training records not of the target class and relabels them with the target;
the defense under test trains on the poisoned set. The score is the attack success rate: the share
of triggered held-out records (not of the target class) classified as the target. Raw: clean accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interplay.validators.data import Split
from interplay.validators.params import param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.training import accuracy
from interplay.validators.triggers import make_trigger

ATTACKER_SALT = 20170822  # fixes the attacker's tabular trigger attributes (BadNets, arXiv 2017)


@dataclass(frozen=True)
class PoisoningParams:
    frac: float = param(0.05, "share of the training set the adversary stamps with its trigger and relabels")


@register_risk("poisoning")
class Poisoning(RiskProbe):
    """A BadNets backdoor; the score is its attack success rate on triggered held-out records."""

    Params = PoisoningParams
    metric = "attack_success_rate"
    requires = ("logits",)

    def __init__(self, settings, task):
        super().__init__(settings, task)
        self.trigger = make_trigger(task, corner=3, salt=ATTACKER_SALT, target=0)
        self._poisoned: list[Split] = []

    def alter_training_data(self, train: Split, seed: int) -> Split:
        candidates = np.flatnonzero(train.y.numpy() != self.trigger.target)
        n = min(round(self.params.frac * len(train)), len(candidates))
        pick = np.random.default_rng(seed).choice(candidates, n, replace=False)
        x, y = train.x.clone(), train.y.clone()
        x[pick], y[pick] = self.trigger.stamp(x[pick]), self.trigger.target
        poisoned = Split(x, y, train.s)
        self._poisoned.append(poisoned)
        return poisoned

    def measure(self, deployment, train, seed):
        if not any(train is p for p in self._poisoned):
            # Handed a model trained on clean data (the harness measuring a defense's effectiveness
            # on its clean deployment): a backdoor needs poisoned training, so retrain with the recipe.
            train = self.alter_training_data(train, seed)
            deployment = deployment.retrain(train, seed)
        asr = accuracy(deployment.model, self.trigger.triggered(self.task.test))
        clean = accuracy(deployment.model, self.task.test)
        return Measurement(asr, {"attack_success_rate": asr, "clean_accuracy": clean, "poison_frac": self.params.frac})
