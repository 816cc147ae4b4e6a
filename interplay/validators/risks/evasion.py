"""Evasion: white-box L-infinity PGD on held-out inputs the model classifies correctly."""

from __future__ import annotations

from dataclasses import dataclass

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
    """White-box L-infinity PGD on held-out inputs the model classifies correctly; the attack success rate."""

    Params = EvasionParams
    dataset_defaults = {"digits": {"eps": 0.1}, "adult": {"eps": 0.1}}
    metric = "attack_success_rate"
    min_effect = 0.02
    requires = ("white_box",)

    def measure(self, deployment, train, seed):
        test, p = self.task.test, self.params
        model = deployment.model
        correct = logits(model, test.x).argmax(1) == test.y
        x, y = test.x[correct], test.y[correct]
        x_adv = pgd(model, x, y, p.eps, p.pgd_steps, self.task.bounds)
        fooled = (logits(model, x_adv).argmax(1) != y).float()
        asr = fooled.mean().item() if len(y) else 0.0
        clean = correct.float().mean().item()
        return Measurement(
            asr,
            {"attack_success_rate": asr, "clean_accuracy": clean, "robust_accuracy": clean * (1 - asr), "eps": p.eps},
        )
