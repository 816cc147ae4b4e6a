"""Membership inference: a loss-threshold attack (Yeom et al. 2018) and a difficulty-calibrated one
(Watson et al. 2022) that subtracts the loss of a reference model the adversary trains, with the
same recipe, on its own population data. Members are the training set, non-members as many held-out
records. The score is the AUC of the stronger attack."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, roc_curve

from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.training import logits


def _losses(model, split) -> np.ndarray:
    return F.cross_entropy(logits(model, split.x), split.y, reduction="none").numpy()


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float = 0.01) -> float:
    f, t, _ = roc_curve(labels, scores)
    return float(t[np.searchsorted(f, fpr, side="right") - 1])


@register_risk("membership-inference")
class MembershipInference(RiskProbe):
    """Loss-threshold and reference-calibrated membership inference; the score is the stronger AUC."""

    metric = "auc"
    min_effect = 0.01
    requires = ("logits",)

    def measure(self, deployment, train, seed):
        n = min(len(train), len(self.task.test))
        members, non_members = train.take(slice(0, n)), self.task.test.take(slice(0, n))
        labels = np.r_[np.ones(n), np.zeros(n)]
        loss = np.r_[_losses(deployment.model, members), _losses(deployment.model, non_members)]
        reference = deployment.retrain(self.task.aux, seed + 7919).model
        ref_loss = np.r_[_losses(reference, members), _losses(reference, non_members)]
        raw = {}
        for name, score in (("loss", -loss), ("calibrated", ref_loss - loss)):
            raw[f"{name}_auc"] = float(roc_auc_score(labels, score))
            raw[f"{name}_tpr_at_1pct_fpr"] = tpr_at_fpr(labels, score)
        auc = max(raw["loss_auc"], raw["calibrated_auc"])
        return Measurement(auc, {"auc": auc, **raw})
