"""Evasion: white-box L-infinity PGD on held-out records.

The score is the attack success rate on the records that every compared model (baseline and defended)
classifies correctly, so that a defended model that misclassifies more records, near-boundary ones first,
does not look more robust by dropping them from the denominator. Reported beside it: robust accuracy on all
held-out records, clean accuracy, and the success rate of a transfer attack (PGD examples crafted on the
baseline model): a defended model that resists its own gradients but not the transferred examples masks
gradients rather than being robust.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from interplay.validators.attacks import pgd
from interplay.validators.params import param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.training import logits


@dataclass(frozen=True)
class EvasionParams:
    eps: float = param(0.25, "L-infinity budget of the attack, in input units (standardized features or [0, 1] pixels)")
    pgd_steps: int = param(10, "PGD steps")


@register_risk("evasion")
class Evasion(RiskProbe):
    """White-box L-infinity PGD; the success rate on held-out records every compared model classifies correctly."""

    Params = EvasionParams
    dataset_defaults = {"digits": {"eps": 0.1}, "adult": {"eps": 0.1}}
    metric = "attack_success_rate"
    requires = ("white_box",)

    def prepare(self, deployments, seed):
        test, p = self.task.test, self.params
        correct = [logits(d.model, test.x).argmax(1) == test.y for d in deployments.values()]
        self._common = torch.stack(correct).all(0)
        base = deployments.get("baseline")
        x, y = test.x[self._common], test.y[self._common]
        self._transfer = pgd(base.model, x, y, p.eps, p.pgd_steps, self.task.bounds) if base and len(y) else None
        self._state = hashlib.sha256(self._common.numpy().tobytes()).hexdigest()

    def state(self):
        return getattr(self, "_state", None)

    def measure(self, deployment, train, seed):
        test, p = self.task.test, self.params
        model = deployment.model
        correct = logits(model, test.x).argmax(1) == test.y
        common = getattr(self, "_common", correct)
        robust = logits(model, pgd(model, test.x, test.y, p.eps, p.pgd_steps, self.task.bounds)).argmax(1) == test.y
        asr = 1 - robust[common].float().mean().item() if common.any() else 0.0
        raw = {
            "attack_success_rate": asr,
            "clean_accuracy": correct.float().mean().item(),
            "robust_accuracy": (correct & robust).float().mean().item(),
            "attacked_records": int(common.sum()),
            "eps": p.eps,
        }
        transfer = getattr(self, "_transfer", None)
        if transfer is not None:
            raw["transfer_success_rate"] = (logits(model, transfer).argmax(1) != test.y[common]).float().mean().item()
        return Measurement(asr, raw)
