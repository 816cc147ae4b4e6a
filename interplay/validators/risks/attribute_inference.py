"""Attribute inference: infer the sensitive attribute of training records from what the deployment releases
about them, against an imputation baseline that sees what the adversary knows of the record but no model
(Jayaraman and Evans 2022). The adversary fits both on its own population data; the score is the attack's AUC
advantage over imputation.

What the adversary sees is the ``outputs`` parameter (``--context outputs=...``):

- ``logits`` (default): the released logits, the attributions too when explanations are exposed (as in Duddu
  and Boutet 2022), and the record's label, which imputation sees as well;
- ``label``: the predicted label only, neither confidences nor the record's label (the black-box, output-only
  adversary of Aalmoes, Duddu and Boutet 2022, on hard labels). Imputation then sees nothing and scores chance
  (AUC 0.5), so the advantage is the attack's AUC above chance. A model whose predictions do not depend on the
  attribute (demographic parity) leaves this adversary at chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from interplay.validators.defenses.explanations import released
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, ProbeUnsupported, RiskProbe
from interplay.validators.training import logits

OUTPUTS = ("logits", "label")


@dataclass(frozen=True)
class AttributeInferenceParams(PluginParams):
    outputs: str = param(
        "logits",
        "what the adversary sees of a record: logits (released logits and attributions, and its label) or label "
        "(the predicted label only: a hard-label, output-only adversary)",
        choices=OUTPUTS,
        context="outputs",
    )


@register_risk("attribute-inference")
class AttributeInference(RiskProbe):
    """Infer the sensitive attribute of training records; the score is the AUC advantage over imputation."""

    Params = AttributeInferenceParams
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
        eye = np.eye(self.task.n_classes)
        if self.params.outputs == "label":
            return eye[logits(deployment.model, split.x).argmax(1).numpy()]
        label = eye[split.y.numpy()]
        if not with_model:
            return label
        return np.c_[label, released(deployment.model, deployment.observables.get("explanations"), split.x).numpy()]

    def _auc(self, deployment, train, seed, with_model: bool) -> float:
        if not with_model and self.params.outputs == "label":
            return 0.5  # nothing to impute from: the adversary knows no attribute of the record
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
