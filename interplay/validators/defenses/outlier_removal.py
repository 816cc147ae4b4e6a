"""Outlier removal: drop a stated fraction (the ``frac`` parameter) of the training records, those most
anomalous or most exposed by the ``criterion`` parameter, before training.

- ``isolation-forest`` (default): an Isolation Forest's anomaly score (Liu et al. 2008, scikit-learn's). It is
  unsupervised and needs no model, and it isolates records with rare attribute values in few random splits,
  which is what backdoor triggers (a patch in a blank image corner, a few attributes at rare values) produce. A
  loss-based score needs an extra training run and misses backdoored records, which a model fits as easily as
  clean ones (Tran et al. 2018); a k-nearest-neighbour label-disagreement score (Peri et al. 2020) misses them
  too, because records that share a trigger are each other's nearest neighbours and carry the same label.
- ``membership``: the auditor's own membership score, the records most exposed to membership inference
  (Carlini et al. 2022, "The privacy onion effect": remove the layer of records most vulnerable to the attack,
  retrain, re-attack the rest). The auditor trains a model with the plain recipe on the training set, with its
  own seed (so the records it removes are not chosen on the noise of the model that is deployed), and scores each
  record by offline RMIA, the membership probe's attack with its parameters, against reference models it trains
  on random halves of population data (the task's auxiliary split), with their own halves and seeds. The
  membership probe then attacks both arms on the records both trained on: the retained ones, against the
  undefended model on the same records (the no-removal control).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.ensemble import IsolationForest

from interplay.validators.data import Split
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.risks.membership_inference import MembershipInference, rmia_scores, true_label_log_probs
from interplay.validators.training import TrainingHooks

CRITERIA = ("isolation-forest", "membership")
AUDIT_SALT = 500009  # the auditor's seeds and halves, apart from the adversary's (``REFERENCE_SALT``)


class _Removed(TrainingHooks):
    def __init__(self, frac: float):
        self.frac = frac

    def metadata(self) -> dict:
        return {"outlier_frac": self.frac}


def outlier_scores(x: np.ndarray, seed: int) -> np.ndarray:
    """Isolation Forest anomaly scores of the rows of ``x``: higher = more anomalous."""
    return -IsolationForest(n_estimators=200, random_state=seed).fit(x).score_samples(x)


@dataclass(frozen=True)
class OutlierRemovalParams(PluginParams):
    frac: float = param(0.1, "share of the training set dropped as the most anomalous records", ge=0, lt=1)
    criterion: str = param(
        "isolation-forest",
        "which records are dropped: the most anomalous (isolation-forest) or the most exposed to the auditor's "
        "own membership attack (membership, the onion effect's removal)",
        choices=CRITERIA,
    )


@register_defense("outlier-removal")
class OutlierRemoval(DefensePlugin):
    """Outlier removal: drop the records an Isolation Forest scores as most anomalous (or those most exposed to
    the auditor's membership attack), before training."""

    Params = OutlierRemovalParams

    def alter_training_data(self, train: Split, seed: int) -> Split:
        if self.params.criterion == "membership":
            scores = self.membership_exposure(train, seed)
        else:
            scores = outlier_scores(train.x.reshape(len(train), -1).numpy(), seed)
        n_drop = round(self.params.frac * len(train))
        keep = np.sort(np.argsort(scores, kind="stable")[: len(train) - n_drop])
        return train.take(keep)

    def membership_exposure(self, train: Split, seed: int) -> np.ndarray:
        """Offline RMIA scores of the records of ``train`` (higher = more exposed) under the auditor's model and
        reference models, all trained with the plain recipe; torch's generator is left where it was, so the
        defended model starts from the undefended one's initialisation."""
        attack = self.settings.params_for(MembershipInference)
        aux, k = self.task.aux, attack.reference_models
        rng = np.random.default_rng([seed, AUDIT_SALT])
        halves = [aux.take(np.sort(rng.permutation(len(aux))[: len(aux) // 2])) for _ in range(k)]
        state = torch.get_rng_state()
        seeds = [seed + AUDIT_SALT * (i + 1) for i in range(k + 1)]
        models = [d.model for d in DefensePlugin(self.settings, self.task).deploy_many([train, *halves], seeds)]
        torch.set_rng_state(state)
        target, *references = (true_label_log_probs(m, train.x, train.y) for m in models)
        return rmia_scores(target, np.stack(references), attack.offline_a)

    def hooks(self) -> TrainingHooks:
        return _Removed(self.params.frac)
