"""Attribute inference: infer the sensitive attribute of training records from the model's logits and
the label, against an imputation baseline that sees the label but no model (Jayaraman and Evans
2022). The adversary fits both on its own population data; the score is the attack's AUC advantage
over imputation."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.training import logits


@register_risk("attribute-inference")
class AttributeInference(RiskProbe):
    """Infer the sensitive attribute of training records; the score is the AUC advantage over imputation."""

    metric = "auc_advantage"
    min_effect = 0.01
    requires = ("logits",)

    def _features(self, model, split, with_model: bool) -> np.ndarray:
        label = np.eye(self.task.n_classes)[split.y.numpy()]
        return np.c_[label, logits(model, split.x).numpy()] if with_model else label

    def _auc(self, model, train, seed, with_model: bool) -> float:
        aux = self.task.aux
        clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
        clf.fit(self._features(model, aux, with_model), aux.s.numpy())
        return float(roc_auc_score(train.s.numpy(), clf.predict_proba(self._features(model, train, with_model))[:, 1]))

    def measure(self, deployment, train, seed):
        attack = self._auc(deployment.model, train, seed, with_model=True)
        imputation = self._auc(deployment.model, train, seed, with_model=False)
        return Measurement(
            attack - imputation,
            {"auc_advantage": attack - imputation, "attack_auc": attack, "imputation_auc": imputation},
        )
