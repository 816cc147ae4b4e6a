"""Unauthorized model ownership, under the SoK's two adversary models (the ``adversary`` parameter).

- ``malicious-suspect``: a theft of the model, by the routes the ``theft`` parameter names
  (``--context theft=...``): ``extraction`` with a query budget (``queries`` of the
  adversary's own records, answered with the deployment's probabilities; a surrogate of the same
  architecture is distilled from them), ``fine-tuning`` of stolen parameters on those records with their
  true labels, all layers for ``finetune_epochs`` (the removal attack Adi et al. 2018 evaluate their
  watermark against, FTAL), or ``any``: both, each equally likely. A copy scores its fidelity (agreement
  with the deployed model on held-out records) when no ownership key the deployment offers (watermark
  key, fingerprint) verifies it, and 0 when one does: only undetected thefts count. The score is the
  mean over the routes. Raw reports each route's fidelity and detection, and ``false_positive``: whether
  a key verifies a model the adversary trains honestly on its own data (the same recipe and records,
  true labels), so that a verification accepting everything shows. Beside the score, extraction at a low
  budget (a ``low_budget_share`` of the full budget's queries, the first ones, trained for as many optimizer
  steps as the full-budget extraction; Khaled et al. 2022 report that adversarially trained models are extracted
  with fewer queries):
  ``low_budget_extraction_fidelity``, and when the deployment releases explanations,
  ``low_budget_guided_extraction_fidelity``: the surrogate also matches the attributions released for its
  queries (model reconstruction from model explanations, Milli et al. 2019; Aivodji et al. 2020;
  :func:`~interplay.validators.ownership.extract`); ``low_budget_released_extraction_fidelity`` is the one
  that uses everything the deployment releases (the guided one where there is one).
- ``malicious-accuser``: a false ownership claim against the deployed model, trained independently
  of the accuser (Liu et al. 2024). The accuser trains its own model on its own data and claims its
  boundary fingerprint (the IPGuard search, on its model) as its key. The score is the deployed
  model's matching rate on the forged key, judged against ``claim_threshold``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from interplay.validators.defenses.explanations import Explainer
from interplay.validators.models import build_model
from interplay.validators.ownership import KEY_OBSERVABLES, OwnershipKey, boundary_points, extract, keys_of
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, Metric, RiskProbe
from interplay.validators.training import TrainingHooks, accuracy, fit, full_steps, logits, seed_everything

ADVERSARIES = ("malicious-suspect", "malicious-accuser")
THEFTS = ("any", "extraction", "fine-tuning")
ROUTES = tuple(t for t in THEFTS if t != "any")  # "any" takes every route
FORGE_STEPS = 50


@dataclass(frozen=True)
class ModelOwnershipParams(PluginParams):
    adversary: str = param("malicious-suspect", "the SoK's adversary model", choices=ADVERSARIES, context="adversary")
    theft: str = param(
        "any",
        "how a malicious suspect obtains its copy (any: the mean over both routes)",
        choices=THEFTS,
        context="theft",
    )
    queries: int = param(1000, "the adversary's query budget (its own records)", ge=1, le=100000)
    low_budget_share: float = param(
        0.1, "share of the query budget the low-budget extractions beside the score use (0: none)", ge=0, le=1
    )
    finetune_epochs: int = param(
        10, "epochs of the fine-tuning thief on its own records (all layers, FTAL)", ge=1, le=100
    )
    forged_queries: int = param(100, "size of the malicious accuser's forged fingerprint", ge=1, le=10000)
    forged_margin: float = param(1.0, "logit lead of the runner-up class at a forged fingerprint point", ge=0, le=100)
    claim_threshold: float = param(0.5, "matching rate from which the accuser's claim is accepted", ge=0, le=1)


@register_risk("model-ownership")
class ModelOwnership(RiskProbe):
    """A copy of the model that ownership verification fails to detect, or a false claim that succeeds."""

    Params = ModelOwnershipParams
    metric = "ownership_risk"
    requires = ("logits",)
    reads = KEY_OBSERVABLES
    metrics = {
        "extraction_fidelity": Metric(),
        "low_budget_extraction_fidelity": Metric(),
        "low_budget_released_extraction_fidelity": Metric(("logits", "explanations")),
    }

    def measure(self, deployment, train, seed):
        if self.params.adversary == "malicious-accuser":
            return self._false_claim(deployment, seed)
        return self._theft(deployment, seed)

    def _theft(self, deployment, seed):
        aux, test, model = self.task.aux, self.task.test, deployment.model
        queries = aux.take(slice(0, min(self.params.queries, len(aux))))
        routes = ROUTES if self.params.theft == "any" else (self.params.theft,)
        keys = keys_of(deployment.observables)
        reference = logits(model, test.x).argmax(1)
        raw, scores = {"queries": len(queries), "verifiable": float(bool(keys))}, []
        for route in routes:
            copy_ = self._steal(route, model, queries, seed)
            fidelity = self._fidelity(copy_, reference)
            detected = any(k.verifies(copy_) for k in keys)
            scores.append(0.0 if detected else fidelity)
            raw |= {
                f"{route}_fidelity": fidelity,
                f"{route}_accuracy": accuracy(copy_, test),
                f"{route}_detected": float(detected),
            }
            raw |= {f"{route}_{k.scheme}_agreement": k.agreement(copy_) for k in keys}
        score = sum(scores) / len(scores)
        raw["ownership_risk"] = score
        if keys:
            honest = self._independent_model(seed)
            raw |= {"false_positive": float(any(k.verifies(honest) for k in keys))}
        raw |= self._low_budget_extraction(deployment, len(queries), reference, seed)
        return Measurement(score, raw)

    def _fidelity(self, copy_, reference) -> float:
        """Agreement of ``copy_`` with the deployed model's predictions ``reference`` on the held-out records."""
        return (logits(copy_, self.task.test.x).argmax(1) == reference).float().mean().item()

    def _low_budget_extraction(self, deployment, full_budget, reference, seed) -> dict[str, float]:
        """Extraction with a ``low_budget_share`` of the ``full_budget`` queries, trained for as many optimizer
        steps as the extraction with ``full_budget`` (only the data differs); and, when the deployment explains,
        the same surrogate (same initialisation and batches) fitted to match the attributions released for its
        queries as well. Each query returns a record's probabilities and, where released, its attribution."""
        spec = self.settings.train
        queries = self.task.aux.take(slice(0, round(self.params.low_budget_share * full_budget)))
        if len(queries) == 0:
            return {}
        batches = full_steps(full_budget, spec.batch_size), full_steps(len(queries), spec.batch_size)
        spec = replace(spec, epochs=spec.epochs * batches[0] // batches[1])
        model, seed = deployment.model, seed + 224737
        plain = extract(model, queries, self.task, spec, seed)
        raw = {"low_budget_queries": len(queries), "low_budget_extraction_fidelity": self._fidelity(plain, reference)}
        explainer = deployment.observables.get("explanations")
        if isinstance(explainer, Explainer):
            guided = extract(model, queries, self.task, spec, seed, explainer(queries.x))
            raw["low_budget_guided_extraction_fidelity"] = self._fidelity(guided, reference)
        raw["low_budget_released_extraction_fidelity"] = raw.get(
            "low_budget_guided_extraction_fidelity", raw["low_budget_extraction_fidelity"]
        )
        return raw

    def _steal(self, route, model, queries, seed):
        """The adversary's copy of ``model``: a surrogate extracted with ``queries``, or the stolen parameters
        fine-tuned on ``queries`` with their true labels."""
        spec = self.settings.train
        if route == "extraction":
            return extract(model, queries, self.task, spec, seed + 104729)
        seed_everything(seed + 7919)
        return fit(
            copy.deepcopy(model),
            queries,
            replace(spec, epochs=self.params.finetune_epochs),
            seed + 7919,
            TrainingHooks(),
        )

    def _independent_model(self, seed):
        """A model trained with the plain recipe on the adversary's own records and their true labels."""
        s = self.settings
        seed_everything(seed + 15485863)
        return fit(
            build_model(self.task.input_shape, self.task.n_classes, s.train.capacity),
            self.task.aux,
            s.train,
            seed + 15485863,
            TrainingHooks(),
        )

    def _false_claim(self, deployment, seed):
        aux, p = self.task.aux, self.params
        own = self._independent_model(seed)
        x = boundary_points(own, aux.x[: p.forged_queries], p.forged_margin, FORGE_STEPS, self.task.bounds)
        forged = OwnershipKey("forged", x, logits(own, x).argmax(1), p.claim_threshold)
        matching = forged.agreement(deployment.model)
        return Measurement(
            matching,
            {
                "ownership_risk": matching,
                "claim_accepted": float(matching >= forged.threshold),
                "accuser_matching": forged.agreement(own),
            },
        )
