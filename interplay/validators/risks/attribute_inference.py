"""Attribute inference: infer the sensitive attribute of training records from what the deployment releases
about them (its logits; its attributions too when explanations are exposed, as in Duddu and Boutet 2022) and
the label, against an imputation baseline that sees the label but no model (Jayaraman and Evans 2022). The
adversary fits both on its own population data; the score is the attack's AUC advantage over imputation."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from interplay.validators.defenses.explanations import released
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, ProbeUnsupported, RiskProbe


@register_risk("attribute-inference")
class AttributeInference(RiskProbe):
    """Infer the sensitive attribute of training records; the score is the AUC advantage over imputation."""

    metric = "auc_advantage"
    ceiling = 0.5  # an attack's AUC of 1 over imputation's, which learns at least chance (0.5) from the label
    needs = ("sensitive",)
    requires = ("logits",)
    reads = ("explanations",)

    def check(self, task):
        if task.info.get("s_from_label"):
            raise ProbeUnsupported(
                f"attribute inference has nothing to infer on {task.name}: its sensitive attribute, "
                f"{task.info.get('sensitive', 's')}, is a function of the label, which the adversary knows"
            )

    def _features(self, deployment, split, with_model: bool) -> np.ndarray:
        label = np.eye(self.task.n_classes)[split.y.numpy()]
        if not with_model:
            return label
        return np.c_[label, released(deployment.model, deployment.observables.get("explanations"), split.x).numpy()]

    def _auc(self, deployment, train, seed, with_model: bool) -> float:
        aux = self.task.aux
        clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
        clf.fit(self._features(deployment, aux, with_model), aux.s.numpy())
        scores = clf.predict_proba(self._features(deployment, train, with_model))[:, 1]
        return float(roc_auc_score(train.s.numpy(), scores))

    def measure(self, deployment, train, seed):
        attack = self._auc(deployment, train, seed, with_model=True)
        imputation = self._auc(deployment, train, seed, with_model=False)
        return Measurement(
            attack - imputation,
            {"auc_advantage": attack - imputation, "attack_auc": attack, "imputation_auc": imputation},
        )
