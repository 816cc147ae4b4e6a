"""Distribution inference (property inference; Ganju et al. 2018, Suri and Evans 2022, the SoK's Sec. 5.2):
tell apart models trained on data in which the sensitive attribute's share is ``ratios[0]`` from
models trained where it is ``ratios[1]``.

The adversary trains ``shadow_models`` per world on subsets of its own population data (the plain recipe,
batched: :mod:`interplay.validators.batched`), describes each model by what the deployment releases on fixed
query records from its data (the logits; the attributions too when explanations are exposed) and fits a
meta-classifier. The victims, ``victim_models`` per world, are trained on subsets of the deployment's
training population with the deployment's own recipe (``retrain``), so the defense is what is measured.
The score is the meta-classifier's AUC on the victims (0.5 = chance): threshold-free, so a defense that shifts
every victim's description the same way (a recipe the shadows do not share) does not pass for one that hides
the property; the distinguishing accuracy is reported beside it.

``ratios`` is calibrated to the baseline's headroom (:mod:`~interplay.validators.calibration`): the pair
closest together, of a grid from (0.5, 0.45) to (0.5, 0.1), at which the undefended recipe's AUC reaches 0.65
on the pilot seeds (the band is [0.65, 0.8]; at (0.5, 0.2) it was 0.98, a ceiling).

Each model's description is standardized per block (logits, attributions) across its query records: the
meta-classifier sees the shape of the decision function, not its scale, which a defense such as DP-SGD
changes for reasons unrelated to the training distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from interplay.validators.batched import train_batched
from interplay.validators.calibration import Headroom
from interplay.validators.data import Split
from interplay.validators.defenses.explanations import Explainer
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, ProbeUnsupported, RiskProbe
from interplay.validators.training import logits

N_QUERIES = 16  # query records per group (s = 0 and s = 1)


def subset(pool: Split, ratio: float, size: int, rng: np.random.Generator) -> Split:
    """``size`` records of ``pool`` drawn without replacement, ``round(ratio * size)`` of them with s = 1."""
    s = pool.s.numpy()
    k = round(ratio * size)
    idx = np.r_[
        rng.choice(np.flatnonzero(s == 1), k, replace=False),
        rng.choice(np.flatnonzero(s == 0), size - k, replace=False),
    ]
    return pool.take(rng.permutation(idx))


def _standardized(block: torch.Tensor) -> np.ndarray:
    block = block.flatten()
    return ((block - block.mean()) / (block.std() + 1e-8)).numpy()


def describe(model: nn.Module, explainer: Explainer | None, queries: torch.Tensor) -> np.ndarray:
    """One model as the meta-classifier sees it: its released outputs on ``queries``, standardized per block."""
    parts = [_standardized(logits(model, queries))]
    if explainer is not None:
        parts.append(_standardized(explainer.for_model(model)(queries)))
    return np.concatenate(parts)


@dataclass(frozen=True)
class DistributionInferenceParams(PluginParams):
    ratios: tuple[float, float] = param((0.5, 0.2), "share of s = 1 in the training data of the two worlds", ge=0, le=1)
    shadow_models: int = param(32, "shadow models per world, trained by the adversary (batched)", ge=2, le=256)
    # 16: the AUC on 8 victims a world had a per-seed SD of 0.11-0.17 (fidelity_audit_t3 §4), as large as the effects
    victim_models: int = param(16, "victim models per world, trained with the deployment's recipe", ge=1, le=256)


@register_risk("distribution-inference")
class DistributionInference(RiskProbe):
    """Tell apart models trained on two property ratios with a meta-classifier; its AUC on the victims."""

    Params = DistributionInferenceParams
    metric = "auc"
    needs = ("sensitive",)
    chance = 0.5
    requires = ("logits",)
    reads = ("explanations",)
    headroom = Headroom("ratios", tuple((0.5, r) for r in (0.45, 0.4, 0.35, 0.3, 0.2, 0.1)), (0.65, 0.8))

    def __init__(self, settings, task):
        super().__init__(settings, task)
        self._trained: dict[tuple[int, int], tuple[list[nn.Module], list[int]]] = {}

    def _subset_size(self, pools: tuple[Split, ...]) -> int:
        """Half the largest size every world (0 < ratio < 1) can draw from every pool, at most a quarter of a
        pool: subsets that share few records, so that models differ by the property rather than by the pool."""
        lo, hi = min(self.params.ratios), max(self.params.ratios)
        sizes = []
        for p in pools:
            n1 = int(p.s.sum())
            sizes += [len(p) // 2, int(n1 / hi), int((len(p) - n1) / (1 - lo))]
        return min(sizes) // 2

    def _shadows(self, size: int, seed: int) -> tuple[list[nn.Module], list[int]]:
        """The adversary's shadow models and their worlds; the same for every deployment, so trained once per seed."""
        if (size, seed) not in self._trained:
            st, aux = self.params, self.task.aux
            rng = np.random.default_rng([seed, 1])
            worlds = [w for w in range(2) for _ in range(st.shadow_models)]
            models = train_batched(
                [subset(aux, st.ratios[w], size, rng) for w in worlds],
                [seed * 10_000 + i for i in range(len(worlds))],
                self.task.input_shape,
                self.task.n_classes,
                self.settings.train,
            )
            self._trained[size, seed] = (models, worlds)
        return self._trained[size, seed]

    def check(self, task):
        if min(int(task.aux.s.sum()), int((1 - task.aux.s).sum())) < 2 * N_QUERIES:
            raise ProbeUnsupported(f"distribution inference needs {2 * N_QUERIES} records of each group in {task.name}")

    def measure(self, deployment, train, seed):
        st, aux = self.params, self.task.aux
        explainer = deployment.observables.get("explanations")
        s = aux.s.numpy()
        queries = aux.x[np.r_[np.flatnonzero(s == 1)[:N_QUERIES], np.flatnonzero(s == 0)[:N_QUERIES]]]
        size = self._subset_size((aux, train))
        shadows, worlds = self._shadows(size, seed)
        meta = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        meta.fit(np.stack([describe(m, explainer, queries) for m in shadows]), worlds)

        rng = np.random.default_rng([seed, 2])
        truth = [w for w in range(2) for _ in range(st.victim_models)]
        datasets = [subset(train, st.ratios[w], size, rng) for w in truth]
        victims = deployment.retrain_all(datasets, [seed * 10_000 + 5_000 + i for i in range(len(truth))])
        features = np.stack([describe(v.model, v.observables.get("explanations"), queries) for v in victims])
        accuracy = float((meta.predict(features) == np.array(truth)).mean())
        auc = float(roc_auc_score(truth, meta.predict_proba(features)[:, 1]))
        return Measurement(auc, {"auc": auc, "distinguishing_accuracy": accuracy, "subset_size": size})
