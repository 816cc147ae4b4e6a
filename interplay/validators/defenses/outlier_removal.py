"""Outlier removal: drop the training records an Isolation Forest (Liu et al. 2008) scores as most
anomalous, a stated fraction (the ``frac`` parameter), before training.

Why this score: it is unsupervised and needs no model, and it isolates records with rare attribute
values in few random splits, which is what backdoor triggers (a patch in a blank image corner, a few
attributes at rare values) produce. A loss-based score needs an extra training run and misses
backdoored records, which a model fits as easily as clean ones (Tran et al. 2018); a k-nearest-
neighbour label-disagreement score (Peri et al. 2020) misses them too, because records that share a
trigger are each other's nearest neighbours and carry the same label. The forest is scikit-learn's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import IsolationForest

from interplay.validators.data import Split
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


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
    frac: float = param(0.1, "share of the training set dropped as the most anomalous records", gt=0, lt=1)


@register_defense("outlier-removal")
class OutlierRemoval(DefensePlugin):
    """Outlier removal: drop the records an Isolation Forest scores as most anomalous, before training."""

    Params = OutlierRemovalParams

    def alter_training_data(self, train: Split, seed: int) -> Split:
        x = train.x.reshape(len(train), -1).numpy()
        n_drop = round(self.params.frac * len(train))
        keep = np.sort(np.argsort(outlier_scores(x, seed), kind="stable")[: len(train) - n_drop])
        return train.take(keep)

    def hooks(self) -> TrainingHooks:
        return _Removed(self.params.frac)
