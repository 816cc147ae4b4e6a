"""Discriminatory behaviour between the sensitive groups on held-out data: the demographic parity difference
(the score), the equalized odds difference (fairlearn), the accuracy gap and each group's accuracy (the
disparate impact of Bagdasaryan et al. 2019), and the robust-accuracy gap under white-box PGD (for defenses
that change robustness: Xu et al. 2021's robust fairness). With several sensitive attributes (one column
each), the groups are their intersections, as fairlearn defines them."""

from __future__ import annotations

from dataclasses import dataclass

from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
from sklearn.metrics import accuracy_score

from interplay.validators.attacks import pgd
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, Metric, ProbeUnsupported, RiskProbe
from interplay.validators.training import logits


@dataclass(frozen=True)
class DiscriminationParams(PluginParams):
    eps: float = param(
        0.25, "L-infinity budget of the PGD attack behind the robust-accuracy gap, in input units", gt=0, le=1
    )


@register_risk("discrimination")
class Discrimination(RiskProbe):
    """Demographic parity difference between the sensitive groups on held-out data (fairlearn)."""

    Params = DiscriminationParams
    dataset_defaults = {"digits": {"eps": 0.1}, "adult": {"eps": 0.1}}
    metric = "demographic_parity_difference"
    needs = ("binary", "sensitive")
    requires = ("logits",)
    metrics = {
        "accuracy_gap": Metric(),
        "equalized_odds_difference": Metric(),
        "robust_accuracy_gap": Metric(("white_box",)),
    }

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
        robust = logits(deployment.model, pgd(deployment.model, test.x, test.y, self.params.eps, 10, self.task.bounds))
        by_robust = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=robust.argmax(1).numpy(),
                                sensitive_features=s).by_group  # fmt: skip
        raw["robust_accuracy_gap"] = float(by_robust.max() - by_robust.min())
        if s.ndim == 1:
            raw |= {
                "accuracy_majority": float(by_group[0]),
                "accuracy_minority": float(by_group[1]),
                "robust_accuracy_majority": float(by_robust[0]),
                "robust_accuracy_minority": float(by_robust[1]),
            }
        return Measurement(dpd, raw)
