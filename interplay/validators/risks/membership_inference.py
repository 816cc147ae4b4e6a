"""Membership inference. The primary attack, fixed in advance, is difficulty-calibrated (Watson et al. 2022):
the target's loss minus that of a reference model the adversary trains, with the same recipe, on its own
population data; the score is its AUC. Reported beside it: the loss-threshold attack (Yeom et al. 2018), TPR
at 0.1% and 1% FPR, the AUC per group of the sensitive attribute, and, when the deployment releases
explanations, the attribution-variance attack of Shokri et al. (2021), whose members have lower variance.
Members are records the deployment trained on, non-members as many held-out records."""

from __future__ import annotations

import numpy as np
import torch
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
    """Reference-calibrated membership inference (the primary attack); the score is its AUC."""

    metric = "auc"
    chance = 0.5
    requires = ("logits",)

    def measure(self, deployment, train, seed):
        n = min(len(train), len(self.task.test))
        members, non_members = train.take(slice(0, n)), self.task.test.take(slice(0, n))
        labels = np.r_[np.ones(n), np.zeros(n)]
        loss = np.r_[_losses(deployment.model, members), _losses(deployment.model, non_members)]
        reference = deployment.retrain(self.task.aux, seed + 7919).model
        ref_loss = np.r_[_losses(reference, members), _losses(reference, non_members)]
        attacks = {"calibrated": ref_loss - loss, "loss": -loss}
        explainer = deployment.observables.get("explanations")
        if explainer is not None:
            x = torch.cat([members.x, non_members.x])
            attacks["attribution_variance"] = -explainer.for_model(deployment.model)(x).flatten(1).var(1).numpy()
        raw = {}
        groups = np.r_[members.s.numpy(), non_members.s.numpy()]
        for name, score in attacks.items():
            raw[f"{name}_auc"] = float(roc_auc_score(labels, score))
            raw[f"{name}_tpr_at_1pct_fpr"] = tpr_at_fpr(labels, score, 0.01)
            raw[f"{name}_tpr_at_0.1pct_fpr"] = tpr_at_fpr(labels, score, 0.001)
            if groups.ndim == 1:
                for g in (0, 1):
                    mask = groups == g
                    if len(set(labels[mask])) == 2:
                        raw[f"{name}_auc_s{g}"] = float(roc_auc_score(labels[mask], score[mask]))
        return Measurement(raw["calibrated_auc"], {"auc": raw["calibrated_auc"], **raw})
