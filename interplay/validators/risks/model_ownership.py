"""Unauthorized model ownership, under the SoK's two adversary models (``Settings.ownership_adversary``).

- ``malicious-suspect``: model extraction with a query budget (``extraction_queries`` of the
  adversary's own records, answered with the deployment's probabilities; a surrogate of the same
  architecture is distilled from them). The score is the surrogate's fidelity (agreement with the
  deployed model on held-out records) when no ownership key the deployment offers (watermark key,
  fingerprint) verifies the surrogate, and 0 when one does: only undetected thefts count. Raw also
  reports ``false_positive``: whether a key verifies a model the adversary trains honestly on its own
  data (the same recipe and records, true labels), so that a verification accepting everything shows.
- ``malicious-accuser``: a false ownership claim against the deployed model, trained independently
  of the accuser (Liu et al. 2024). The accuser trains its own model on its own data and claims its
  boundary fingerprint (the IPGuard search, on its model) as its key. The score is the deployed
  model's matching rate on the forged key, judged against ``fingerprint_threshold``.
"""

from __future__ import annotations

from interplay.validators.models import build_model
from interplay.validators.ownership import OwnershipKey, boundary_points, extract, keys_of
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.settings import CONTEXT_SETTINGS
from interplay.validators.training import TrainingHooks, accuracy, fit, logits, seed_everything

ADVERSARIES = CONTEXT_SETTINGS["adversary"][1]
FORGE_STEPS = 50


class ModelOwnership(RiskProbe):
    slug = "model-ownership"
    metric = "ownership_risk"
    min_effect = 0.02
    requires = ("logits",)

    def check(self, task):
        if self.settings.ownership_adversary not in ADVERSARIES:
            raise ValueError(f"unknown adversary {self.settings.ownership_adversary!r}; choose from "
                             f"{', '.join(ADVERSARIES)}")

    def measure(self, deployment, train, seed):
        if self.settings.ownership_adversary == "malicious-accuser":
            return self._false_claim(deployment, seed)
        return self._theft(deployment, seed)

    def _theft(self, deployment, seed):
        aux, test, model = self.task.aux, self.task.test, deployment.model
        queries = aux.take(slice(0, min(self.settings.extraction_queries, len(aux))))
        surrogate = extract(model, queries, self.task, self.settings.train, seed + 104729)
        fidelity = (logits(surrogate, test.x).argmax(1) == logits(model, test.x).argmax(1)).float().mean().item()
        keys = keys_of(deployment.observables)
        detected = any(k.verifies(surrogate) for k in keys)
        score = 0.0 if detected else fidelity
        raw = {"ownership_risk": score, "fidelity": fidelity, "surrogate_accuracy": accuracy(surrogate, test),
               "queries": len(queries), "detected": float(detected), "verifiable": float(bool(keys))}
        if keys:
            honest = self._independent_model(seed)
            raw |= {f"{k.scheme}_agreement": k.agreement(surrogate) for k in keys}
            raw |= {"false_positive": float(any(k.verifies(honest) for k in keys))}
        return Measurement(score, raw)

    def _independent_model(self, seed):
        """A model trained with the plain recipe on the adversary's own records and their true labels."""
        s = self.settings
        seed_everything(seed + 15485863)
        return fit(build_model(self.task.input_shape, self.task.n_classes, s.train.capacity), self.task.aux,
                   s.train, seed + 15485863, TrainingHooks())

    def _false_claim(self, deployment, seed):
        aux, s = self.task.aux, self.settings
        own = self._independent_model(seed)
        x = boundary_points(own, aux.x[:s.fingerprint_queries], s.fingerprint_margin, FORGE_STEPS, self.task.bounds)
        forged = OwnershipKey("forged", x, logits(own, x).argmax(1), s.fingerprint_threshold)
        matching = forged.agreement(deployment.model)
        return Measurement(matching, {"ownership_risk": matching, "claim_accepted": float(matching >= forged.threshold),
                                      "accuser_matching": forged.agreement(own)})
