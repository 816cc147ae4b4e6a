"""Poisoning, of one of two kinds fixed per run (the ``kind`` parameter; the score's metric follows it):

- ``backdoor`` (BadNets, Gu et al. 2017): the adversary stamps its trigger onto a share ``frac`` of the training
  records not of the target class and relabels them with the target. The score is the attack success rate: the
  share of held-out records of another class, classified correctly without the trigger, that the trigger turns
  into the target (a model's own errors into the target class are no success of the attack; raw
  ``triggered_target_rate`` counts them too); raw: clean accuracy.
  ``frac`` is calibrated to the baseline's headroom (:mod:`~interplay.validators.calibration`): the smallest
  rate of the grid at which the undefended model's success rate reaches 0.4 on the pilot seeds.
- ``label-flip``: availability (indiscriminate) poisoning: the adversary flips the labels of a share
  ``flip_frac`` of the training records to another class drawn at random (Biggio et al. 2012's label-flip
  baseline). The score is the clean-accuracy drop: the accuracy on held-out records of the defense's recipe
  trained on clean data minus that of the same recipe trained on the poisoned data.

The defense under test trains on the poisoned set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from interplay.validators.calibration import Headroom
from interplay.validators.data import Split
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, Metric, RiskProbe
from interplay.validators.training import accuracy, logits
from interplay.validators.triggers import make_trigger

ATTACKER_SALT = 20170822  # fixes the attacker's tabular trigger attributes (BadNets, arXiv 2017)
KINDS = ("backdoor", "label-flip")


@dataclass(frozen=True)
class PoisoningParams(PluginParams):
    kind: str = param("backdoor", "the adversary's goal: a backdoor, or availability by label flipping", choices=KINDS)
    frac: float = param(0.05, "backdoor: share of the training set stamped with the trigger and relabelled", gt=0, lt=1)
    flip_frac: float = param(0.2, "label-flip: share of the training set whose labels the adversary flips", gt=0, lt=1)


@register_risk("poisoning")
class Poisoning(RiskProbe):
    """A BadNets backdoor (its attack success rate) or label flipping (the clean-accuracy drop it causes)."""

    Params = PoisoningParams
    metric = "attack_success_rate"
    needs = ("trigger",)
    requires = ("logits",)
    metrics = {"accuracy_drop": Metric()}
    headroom = Headroom("frac", (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1), (0.4, 0.6))

    def __init__(self, settings, task):
        super().__init__(settings, task)
        self.trigger = make_trigger(task, corner=3, salt=ATTACKER_SALT, target=0)
        self._clean: list[tuple[Split, Split]] = []  # (poisoned, clean) pairs this probe made

    @classmethod
    def metric_for(cls, settings) -> str:
        return "accuracy_drop" if settings.params_for(cls).kind == "label-flip" else cls.metric

    @classmethod
    def headroom_for(cls, settings) -> Headroom | None:
        return cls.headroom if settings.params_for(cls).kind == "backdoor" else None

    def alter_training_data(self, train: Split, seed: int) -> Split:
        rng = np.random.default_rng(seed)
        x, y = train.x.clone(), train.y.clone()
        if self.params.kind == "label-flip":
            pick = rng.choice(len(train), round(self.params.flip_frac * len(train)), replace=False)
            shift = torch.as_tensor(rng.integers(1, self.task.n_classes, len(pick)))
            y[pick] = (y[pick] + shift) % self.task.n_classes
        else:
            candidates = np.flatnonzero(train.y.numpy() != self.trigger.target)
            pick = rng.choice(candidates, min(round(self.params.frac * len(train)), len(candidates)), replace=False)
            if len(pick):
                x[pick], y[pick] = self.trigger.stamp(x[pick]), self.trigger.target
        poisoned = Split(x, y, train.s)
        self._clean.append((poisoned, train))
        return poisoned

    def _clean_data(self, train: Split) -> Split | None:
        return next((clean for poisoned, clean in self._clean if poisoned is train), None)

    def measure(self, deployment, train, seed):
        clean_train = self._clean_data(train)
        if clean_train is None:
            # Handed a model trained on clean data (the harness measuring a defense's effectiveness
            # on its clean deployment): poisoning needs poisoned training, so retrain with the recipe.
            clean_train, train = train, self.alter_training_data(train, seed)
            deployment = deployment.retrain(train, seed)
        clean = accuracy(deployment.model, self.task.test)
        if self.params.kind == "label-flip":
            unpoisoned = accuracy(deployment.retrain(clean_train, seed).model, self.task.test)
            drop = unpoisoned - clean
            raw = {"clean_accuracy": clean, "unpoisoned_accuracy": unpoisoned, "flip_frac": self.params.flip_frac}
            return Measurement(drop, {"accuracy_drop": drop, **raw})
        test = self.task.test
        correct = (logits(deployment.model, test.x).argmax(1) == test.y).numpy()
        asr = accuracy(deployment.model, self.trigger.triggered(test.take(np.flatnonzero(correct))))
        everything = accuracy(deployment.model, self.trigger.triggered(test))
        raw = {"clean_accuracy": clean, "triggered_target_rate": everything}
        return Measurement(asr, {"attack_success_rate": asr, **raw, "poison_frac": self.params.frac})
