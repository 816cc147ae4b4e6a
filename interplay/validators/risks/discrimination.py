"""Discriminatory behaviour: demographic parity and equalized odds differences (fairlearn) between the
sensitive groups on held-out data; the score is the demographic parity difference."""

from __future__ import annotations

import numpy as np
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from interplay.validators.risks.base import Measurement, ProbeUnsupported, RiskProbe
from interplay.validators.training import logits


class Discrimination(RiskProbe):
    slug = "discrimination"
    metric = "demographic_parity_difference"
    min_effect = 0.01
    requires = ("logits",)

    def check(self, task):
        if task.n_classes != 2:
            raise ProbeUnsupported(f"discrimination needs a binary task; {task.name} has {task.n_classes} classes")

    def measure(self, deployment, train, seed):
        test = self.task.test
        y, s = test.y.numpy(), test.s.numpy()
        pred = logits(deployment.model, test.x).argmax(1).numpy()
        acc = [float((pred[s == g] == y[s == g]).mean()) for g in (0, 1)]
        dpd = float(demographic_parity_difference(y, pred, sensitive_features=s))
        return Measurement(dpd, {
            "demographic_parity_difference": dpd,
            "equalized_odds_difference": float(equalized_odds_difference(y, pred, sensitive_features=s)),
            "accuracy_majority": acc[0], "accuracy_minority": acc[1], "accuracy_gap": float(np.abs(acc[0] - acc[1])),
        })
