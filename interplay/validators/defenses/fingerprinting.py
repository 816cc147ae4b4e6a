"""Fingerprinting: conferrable boundary fingerprints extracted from the trained model without changing it
(IPGuard, Cao et al. 2021; conferrable adversarial examples, Lukas et al. 2021).

Candidate points: training records moved across the model's decision boundary into their runner-up
class, to a logit lead of ``margin`` (IPGuard's search), labelled with the model's own
predictions. Conferrable ones (Lukas et al.): those on which a surrogate the owner distils from its
own model agrees with it and a reference model the owner trains independently (same recipe and data,
another seed) does not. The first ``queries`` of them are the fingerprint, an observable;
a suspect that matches at least ``threshold`` of them is judged a copy
(:class:`~interplay.validators.ownership.OwnershipKey`). Plain IPGuard points (no selection) did not
separate extracted surrogates from independent models on our data (see docs/validators.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.models import build_model
from interplay.validators.ownership import OwnershipKey, boundary_points, extract
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks, fit, logits, seed_everything

BOUNDARY_STEPS = 50
CANDIDATES = 3  # candidate points per fingerprint query


@dataclass(frozen=True)
class FingerprintingParams(PluginParams):
    queries: int = param(100, "fingerprint size: conferrable boundary points kept", ge=1, le=10000)
    margin: float = param(1.0, "logit lead of the runner-up class at a fingerprint point", ge=0, le=100)
    threshold: float = param(
        0.5, "matching rate on the fingerprint from which a suspect model is judged a copy", ge=0, le=1
    )


@register_defense("fingerprinting")
class Fingerprinting(DefensePlugin):
    """Conferrable boundary fingerprints extracted from the trained model without changing it."""

    Params = FingerprintingParams

    def observables(self, model, train) -> dict:
        s, p = self.settings, self.params
        # torch's global generator is seeded by deploy(), so these draws are deterministic per seed
        seed = int(torch.randint(2**31 - 1, ()))
        pick = torch.randperm(len(train))[: CANDIDATES * p.queries]
        x = boundary_points(model, train.x[pick], p.margin, BOUNDARY_STEPS, self.task.bounds)
        y = logits(model, x).argmax(1)
        surrogate = extract(model, train, self.task, s.train, seed)
        seed_everything(seed + 1)
        reference = fit(
            build_model(self.task.input_shape, self.task.n_classes, s.train.capacity),
            train,
            s.train,
            seed + 1,
            TrainingHooks(),
        )
        conferrable = (logits(surrogate, x).argmax(1) == y) & (logits(reference, x).argmax(1) != y)
        key = OwnershipKey("fingerprint", x[conferrable][: p.queries], y[conferrable][: p.queries], p.threshold)
        return {"fingerprint_queries": key}
