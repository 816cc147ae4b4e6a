"""Evasion: white-box L-infinity PGD on held-out inputs the model classifies correctly."""

from __future__ import annotations

from interplay.validators.attacks import pgd
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.training import logits


class Evasion(RiskProbe):
    slug = "evasion"
    metric = "attack_success_rate"
    min_effect = 0.02
    requires = ("white_box",)

    def measure(self, deployment, train, seed):
        test, s = self.task.test, self.settings
        model = deployment.model
        correct = logits(model, test.x).argmax(1) == test.y
        x, y = test.x[correct], test.y[correct]
        x_adv = pgd(model, x, y, s.eps, s.pgd_steps_attack, self.task.bounds)
        fooled = (logits(model, x_adv).argmax(1) != y).float()
        asr = fooled.mean().item() if len(y) else 0.0
        clean = correct.float().mean().item()
        return Measurement(asr, {"attack_success_rate": asr, "clean_accuracy": clean,
                                 "robust_accuracy": clean * (1 - asr), "eps": s.eps})
