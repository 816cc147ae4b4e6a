"""Membership inference. The primary attack, fixed in advance, is offline RMIA (Zarifzadeh, Liu and Shokri,
ICML 2024), chosen over LiRA because it stays strong with few reference models, which suits a CPU: the
adversary trains ``reference_models`` models with the deployment's recipe on random halves of its own
population data (in one vmapped batch where the recipe is the plain one) and scores a record x by the
likelihood ratio Pr(x | target) / Pr(x), with Pr(x | model) the probability of x's true label and
Pr(x) = ((1 + a) * mean over references of Pr(x | reference) + 1 - a) / 2, the offline approximation for
references that never saw x. RMIA's final score, the share of population records z whose ratio the record's
ratio exceeds by a factor gamma, is a monotone function of this ratio for a fixed population sample, so every
threshold-free metric (AUC, TPR at a fixed FPR) is the ratio's own; the score is its AUC.

Reported beside it, each as AUC, TPR at 1% and 0.1% FPR and AUC per group of the sensitive attribute:
difficulty calibration (Watson et al. 2022: the target's loss minus the references' mean loss), the
loss-threshold attack (Yeom et al. 2018), and, on what a deployment releases, the attribution-variance
attack (Shokri, Strobel and Zick 2021; members have lower variance) when it releases explanations, and
proximity to a disclosed fingerprint (fingerprint points are training records moved across the decision
boundary, Cao et al. 2021, so records near one are likely members) when it releases one.
Members are records the deployment trained on, non-members as many held-out records.

Deleted records: when a compared deployment deleted records it trained on (``Deployment.forgotten``, unlearning),
``prepare`` keeps them and every arm scores them against the same non-members: ``deleted_auc``, RMIA on the
deployed model, and ``deleted_versions_auc``, the adversary who queries the service before and after the deletion
(the observable ``model_before_deletion``): RMIA on the model before deletion with the model after it as the
reference, a model that by the deletion's guarantee never saw the record; on a deployment that released one
version, the same attack as ``deleted_auc``. Each also as TPR at 1% FPR.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from interplay.validators.data import Split
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, Metric, RiskProbe
from interplay.validators.training import logits

REFERENCE_SALT = 7919


def true_label_log_probs(model, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """log Pr(y | x, model), in double precision (a member's probability rounds to 1 in single precision)."""
    return logits(model, x).double().log_softmax(1).gather(1, y[:, None]).squeeze(1).numpy()


def rmia_scores(target: np.ndarray, references: np.ndarray, a: float) -> np.ndarray:
    """Offline RMIA's log likelihood ratio from true-label log-probabilities: ``target`` (n,), ``references`` (k, n)."""
    p_x = ((1 + a) * np.exp(references).mean(0) + 1 - a) / 2
    return target - np.log(p_x)


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr: float = 0.01) -> float:
    f, t, _ = roc_curve(labels, scores)
    return float(t[np.searchsorted(f, fpr, side="right") - 1])


@dataclass(frozen=True)
class MembershipInferenceParams(PluginParams):
    reference_models: int = param(
        4, "reference models the adversary trains, with the deployment's recipe", ge=1, le=128
    )
    offline_a: float = param(
        0.3,
        "RMIA's offline coefficient a (the default of the open RMIA implementations, e.g. ML Privacy Meter)",
        ge=0,
        le=1,
    )


@register_risk("membership-inference")
class MembershipInference(RiskProbe):
    """Offline RMIA with reference models trained by the deployment's recipe (the primary attack); its AUC."""

    Params = MembershipInferenceParams
    metric = "auc"
    chance = 0.5
    requires = ("logits",)
    # A TPR at a fixed FPR is read as a ratio (its chance is the FPR; see :mod:`~interplay.validators.stats`).
    metrics = {
        f"{attack}{m}": Metric(chance=chance, ratio=chance < 0.5)
        for attack in ("", "rmia_", "calibrated_", "loss_")
        for m, chance in (("auc_s0", 0.5), ("auc_s1", 0.5), ("tpr_at_1pct_fpr", 0.01), ("tpr_at_0.1pct_fpr", 0.001))
    } | {f"{attack}_auc": Metric(chance=0.5) for attack in ("rmia", "calibrated", "loss")}
    metrics |= {  # the deleted records' membership (see the module docstring)
        "deleted_auc": Metric(chance=0.5),
        "deleted_tpr_at_1pct_fpr": Metric(chance=0.01, ratio=True),
        "deleted_versions_auc": Metric(("logits", "model_before_deletion"), 0.5),
        "deleted_versions_tpr_at_1pct_fpr": Metric(("logits", "model_before_deletion"), 0.01, ratio=True),
    }
    forgotten: Split | None = None  # the deleted records of a compared deployment (see ``prepare``)

    def prepare(self, deployments, seed):
        """Keep the records a compared deployment deleted, to score them on every arm."""
        self.forgotten = next((d.forgotten for d in deployments.values() if d.forgotten is not None), None)

    def state(self):
        return None if self.forgotten is None else hashlib.sha256(b"".join(self.forgotten.row_keys())).hexdigest()

    def retrains(self, seed: int) -> list[tuple[list[Split], list[int]]]:
        """The reference models' training sets and seeds: random halves of the adversary's population data."""
        aux, k = self.task.aux, self.params.reference_models
        rng = np.random.default_rng([seed, REFERENCE_SALT])
        halves = [aux.take(np.sort(rng.permutation(len(aux))[: len(aux) // 2])) for _ in range(k)]
        return [(halves, [seed + REFERENCE_SALT * (i + 1) for i in range(k)])]

    def _references(self, deployment, seed: int) -> list:
        ((halves, seeds),) = self.retrains(seed)
        return [d.model for d in deployment.retrain_all(halves, seeds)]

    def measure(self, deployment, train, seed):
        n = min(len(train), len(self.task.test))
        members, non_members = train.take(slice(0, n)), self.task.test.take(slice(0, n))
        deleted = self.forgotten if self.forgotten is not None else train.take(slice(0, 0))
        x, y = torch.cat([members.x, non_members.x, deleted.x]), torch.cat([members.y, non_members.y, deleted.y])
        labels = np.r_[np.ones(n), np.zeros(n)]
        scored = true_label_log_probs(deployment.model, x, y)
        referenced = np.stack([true_label_log_probs(m, x, y) for m in self._references(deployment, seed)])
        target, references = scored[: 2 * n], referenced[:, : 2 * n]
        x, y = x[: 2 * n], y[: 2 * n]
        attacks = {
            "rmia": rmia_scores(target, references, self.params.offline_a),
            "calibrated": target - references.mean(0),  # minus the loss, plus the references' mean loss
            "loss": target,
        }
        explainer = deployment.observables.get("explanations")
        if explainer is not None:
            attacks["attribution_variance"] = -explainer.for_model(deployment.model)(x).flatten(1).var(1).numpy()
        fingerprint = deployment.observables.get("fingerprint_queries")
        if fingerprint is not None and len(fingerprint.y):
            distances = torch.cdist(x.flatten(1), fingerprint.x.flatten(1))
            attacks["fingerprint_proximity"] = -distances.min(1).values.numpy()
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
        if len(deleted):
            raw |= self._deleted(deployment, non_members, deleted, scored[n:], referenced[:, n:])
        primary = {k.removeprefix("rmia_"): v for k, v in raw.items() if k.startswith("rmia_")}
        return Measurement(raw["rmia_auc"], {**primary, **raw})

    def _deleted(self, deployment, non_members: Split, deleted: Split, target, references) -> dict[str, float]:
        """The membership of the ``deleted`` records against ``non_members``, from the true-label log-probabilities
        of those records, in that order, under the deployed model (``target``) and the reference models."""
        a = self.params.offline_a
        labels = np.r_[np.zeros(len(non_members)), np.ones(len(deleted))]
        deployed = rmia_scores(target, references, a)
        before = deployment.observables.get("model_before_deletion")
        versions = deployed
        if before is not None:  # the model after the deletion is the reference
            x, y = torch.cat([non_members.x, deleted.x]), torch.cat([non_members.y, deleted.y])
            versions = rmia_scores(true_label_log_probs(before, x, y), target[None], a)
        raw = {}
        for name, score in (("deleted", deployed), ("deleted_versions", versions)):
            raw[f"{name}_auc"] = float(roc_auc_score(labels, score))
            raw[f"{name}_tpr_at_1pct_fpr"] = tpr_at_fpr(labels, score, 0.01)
        return raw
