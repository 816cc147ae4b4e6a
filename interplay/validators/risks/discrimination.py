"""Discriminatory behaviour between the sensitive groups on held-out data: the demographic parity difference
(the score), the equalized odds difference (fairlearn), the accuracy gap and each group's accuracy (the
disparate impact of Bagdasaryan et al. 2019), and the robust-accuracy gap under white-box PGD (for defenses
that change robustness: Xu et al. 2021's robust fairness). With several sensitive attributes (one column
each), the groups are their intersections, as fairlearn defines them.

``groups="classes"`` (Fashion-MNIST's default): the groups are the classes of a multi-class task, the class-wise
accuracy disparity of Benz et al. 2021: ``accuracy_gap`` (the score) and ``robust_accuracy_gap`` are the best class's
accuracy minus the worst's, clean and under PGD; parity and equalized odds, binary notions, are not reported."""

from __future__ import annotations

from dataclasses import dataclass

from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference
from sklearn.metrics import accuracy_score

from interplay.validators.attacks import pgd
from interplay.validators.needs import check_needs
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, Metric, ProbeUnsupported, RiskProbe
from interplay.validators.training import logits

GROUPS = ("sensitive", "classes")


@dataclass(frozen=True)
class DiscriminationParams(PluginParams):
    eps: float = param(
        0.25, "L-infinity budget of the PGD attack behind the robust-accuracy gap, in input units", gt=0, le=1
    )
    groups: str = param(
        "sensitive", "whose accuracies are compared: the sensitive groups, or the classes", choices=GROUPS
    )


@register_risk("discrimination")
class Discrimination(RiskProbe):
    """Demographic parity difference between the sensitive groups on held-out data (fairlearn)."""

    Params = DiscriminationParams
    dataset_defaults = {
        "digits": {"eps": 0.1},
        "adult": {"eps": 0.1},
        "fashion-mnist": {"eps": 0.1, "groups": "classes"},
    }
    metric = "demographic_parity_difference"
    requires = ("logits",)
    metrics = {
        "accuracy_gap": Metric(),
        "equalized_odds_difference": Metric(),
        "robust_accuracy_gap": Metric(("white_box",)),
    }

    @classmethod
    def metric_for(cls, settings):
        return "accuracy_gap" if settings.params_for(cls).groups == "classes" else cls.metric

    def check(self, task):
        if self.params.groups == "sensitive":
            check_needs("discrimination between sensitive groups", ("binary", "sensitive"), task)
        elif task.n_classes < 2:
            raise ProbeUnsupported(f"class-wise discrimination needs several classes; {task.name} has one")

    def measure(self, deployment, train, seed):
        test = self.task.test
        classes = self.params.groups == "classes"
        y, s = test.y.numpy(), (test.y if classes else test.s).numpy()
        pred = logits(deployment.model, test.x).argmax(1).numpy()
        by_group = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=pred, sensitive_features=s).by_group
        raw = {"accuracy_gap": float(by_group.max() - by_group.min())}
        robust = logits(deployment.model, pgd(deployment.model, test.x, test.y, self.params.eps, 10, self.task.bounds))
        by_robust = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=robust.argmax(1).numpy(),
                                sensitive_features=s).by_group  # fmt: skip
        raw["robust_accuracy_gap"] = float(by_robust.max() - by_robust.min())
        if classes:
            return Measurement(raw["accuracy_gap"], raw | {"worst_class_accuracy": float(by_group.min())})
        dpd = float(demographic_parity_difference(y, pred, sensitive_features=s))
        raw["demographic_parity_difference"] = dpd
        raw["equalized_odds_difference"] = float(equalized_odds_difference(y, pred, sensitive_features=s))
        if s.ndim == 1:
            raw |= {
                "accuracy_majority": float(by_group[0]),
                "accuracy_minority": float(by_group[1]),
                "robust_accuracy_majority": float(by_robust[0]),
                "robust_accuracy_minority": float(by_robust[1]),
            }
        return Measurement(dpd, raw)
