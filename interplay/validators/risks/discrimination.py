"""Discriminatory behaviour: demographic parity and equalized odds differences (fairlearn) between the
sensitive groups on held-out data; the score is the demographic parity difference. With several sensitive
attributes (one column each), the groups are their intersections, as fairlearn defines them."""

from __future__ import annotations

from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
from sklearn.metrics import accuracy_score

from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, ProbeUnsupported, RiskProbe
from interplay.validators.training import logits


@register_risk("discrimination")
class Discrimination(RiskProbe):
    """Demographic parity difference between the sensitive groups on held-out data (fairlearn)."""

    metric = "demographic_parity_difference"
    requires = ("logits",)

    def check(self, task):
        if task.n_classes != 2:
            raise ProbeUnsupported(f"discrimination needs a binary task; {task.name} has {task.n_classes} classes")

    def measure(self, deployment, train, seed):
        test = self.task.test
        y, s = test.y.numpy(), test.s.numpy()
        pred = logits(deployment.model, test.x).argmax(1).numpy()
        by_group = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=pred, sensitive_features=s).by_group
        dpd = float(demographic_parity_difference(y, pred, sensitive_features=s))
        raw = {
            "demographic_parity_difference": dpd,
            "equalized_odds_difference": float(equalized_odds_difference(y, pred, sensitive_features=s)),
            "accuracy_gap": float(by_group.max() - by_group.min()),
        }
        if s.ndim == 1:
            raw |= {"accuracy_majority": float(by_group[0]), "accuracy_minority": float(by_group[1])}
        return Measurement(dpd, raw)
