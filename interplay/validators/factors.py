"""Factor probes: the SoK's underlying factors and mediators measured on a deployed model or its data.

Each estimator returns one number per deployment, oriented like the KB's factor (higher = more of it), so that a
defense -> factor edge ``increases`` predicts defended minus baseline > 0. None is a risk probe's score under
another name: they describe the model or its data, never an adversary's success.

- ``overfitting``: the generalization gap, training minus held-out accuracy (Yeom et al. 2018, the quantity
  their membership bound rests on; the attack itself is not run).
- ``curvature-smoothness``: minus the loss curvature along the gradient sign, the finite difference
  ``||grad l(x + h d) - grad l(x)||_2 / h`` with ``d = sign(grad l(x))`` (CURE, Moosavi-Dezfooli et al. 2019),
  averaged over held-out records; smoother = larger.
- ``boundary-distance``: the mean L-infinity distance of training records to the decision boundary, the
  smallest budget of a geometric grid at which PGD flips the record's prediction (a bisection-free minimal
  adversarial perturbation, in the spirit of DeepFool; capped at ``BOUNDARY_CAP``). The evasion probe measures
  how many held-out records fall at one budget; this is the distance itself, on the records trained on.
- ``distinguishability-datasets`` (O2.1): the Kolmogorov-Smirnov distance between the loss distributions of
  training and held-out records (a distance between two distributions, not a membership attack's AUC).
- ``distinguishability-subgroups`` (O2.2): the KS distance between the confidence distributions (top softmax)
  of the two groups of the sensitive attribute on held-out records.
- ``subgroup-accuracy-gap``: the absolute accuracy difference between the groups on held-out records (a KB
  mediator; the discrimination probe scores demographic parity instead).
- ``model-capacity`` (M1, effective capacity): the L2 norm of the parameters, a norm-based capacity measure
  (Neyshabur et al. 2017); the architecture is the same in both arms, so only its use can differ.
- ``training-data-size`` (D1): the number of records the deployment trained on (``Deployment.trained_on``).
- ``tail-length`` (D2): the share of the rare group (``s = 1``, the generator's tail with its own labelling
  rule) among the records trained on.
- ``stable-attribute-priority`` (D4, synthetic data only): the share of the input-gradient mass on the stable
  attributes among the stable and spurious ones (the generator knows which are which).

- ``memorization``: Feldman's memorization score (Feldman 2020; Feldman and Zhang 2020), estimated by
  subsampling: ``MEMORIZATION_MODELS`` models trained with the deployment's recipe on random halves of its
  training records (batched for the plain recipe); a record's score is its accuracy under the models that saw it
  minus under those that did not; the estimate is the mean over the first ``MEMORIZATION_RECORDS`` records.

Factors left out, and why: distinguishability across models (defined on an ownership key, which an undefended
model has none of) and input dimensionality (a property of the data, which no defense here changes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import ks_2samp

from interplay.errors import UsageError
from interplay.validators.attacks import pgd
from interplay.validators.data import Task
from interplay.validators.defenses.base import Deployment
from interplay.validators.settings import Settings
from interplay.validators.training import logits

RECORDS = 200  # records per gradient-based estimate (curvature, boundary distance)
CURVATURE_STEP = 0.01
BOUNDARY_GRID = tuple(0.01 * 1.5**k for k in range(12))  # 0.01 .. 0.86 in input units
BOUNDARY_CAP = BOUNDARY_GRID[-1] * 1.5
PGD_STEPS = 10
MEMORIZATION_MODELS, MEMORIZATION_RECORDS, MEMORIZATION_SALT = 8, 200, 271828


class UnknownFactor(UsageError, LookupError):
    """A factor without an estimator."""


@dataclass(frozen=True)
class Context:
    """What an estimator sees: the deployment, the task (its held-out ``test`` split), the settings and the seed."""

    deployment: Deployment
    task: Task
    settings: Settings
    seed: int = 0

    @property
    def members(self):
        return self.deployment.trained_on if self.deployment.trained_on is not None else self.task.train


def _grad(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), x)
    return g


def overfitting(c: Context) -> float:
    model = c.deployment.model
    train_acc = (logits(model, c.members.x).argmax(1) == c.members.y).float().mean().item()
    return train_acc - (logits(model, c.task.test.x).argmax(1) == c.task.test.y).float().mean().item()


def curvature_smoothness(c: Context) -> float:
    model, test = c.deployment.model, c.task.test.take(slice(0, RECORDS))
    g = _grad(model, test.x, test.y)
    d = g.sign()
    step = _grad(model, test.x + CURVATURE_STEP * d, test.y) - g
    return -float(step.flatten(1).norm(dim=1).mean() / CURVATURE_STEP)


def boundary_distances(model, x: torch.Tensor, clamp: tuple[float, float] | None = None) -> torch.Tensor:
    """Per record, the smallest budget of :data:`BOUNDARY_GRID` at which PGD changes the model's prediction
    (:data:`BOUNDARY_CAP` where none does)."""
    pred = logits(model, x).argmax(1)
    out = torch.full((len(x),), BOUNDARY_CAP)
    open_ = torch.ones(len(x), dtype=torch.bool)
    for eps in BOUNDARY_GRID:
        if not open_.any():
            break
        idx = open_.nonzero().squeeze(1)
        flipped = logits(model, pgd(model, x[idx], pred[idx], eps, PGD_STEPS, clamp)).argmax(1) != pred[idx]
        out[idx[flipped]] = eps
        open_[idx[flipped]] = False
    return out


def boundary_distance(c: Context) -> float:
    members = c.members.take(slice(0, RECORDS))
    return float(boundary_distances(c.deployment.model, members.x, c.task.bounds).mean())


def _losses(model, split) -> np.ndarray:
    return F.cross_entropy(logits(model, split.x), split.y, reduction="none").numpy()


def distinguishability_datasets(c: Context) -> float:
    n = min(len(c.members), len(c.task.test))
    model = c.deployment.model
    return float(
        ks_2samp(_losses(model, c.members.take(slice(0, n))), _losses(model, c.task.test.take(slice(0, n)))).statistic
    )


def _groups(c: Context) -> np.ndarray:
    s = c.task.test.s.numpy()
    if s.ndim != 1 or len(set(s)) != 2:
        raise UnknownFactor("this factor needs one binary sensitive attribute with both groups on held-out records")
    return s


def distinguishability_subgroups(c: Context) -> float:
    s = _groups(c)
    confidence = logits(c.deployment.model, c.task.test.x).softmax(1).amax(1).numpy()
    return float(ks_2samp(confidence[s == 0], confidence[s == 1]).statistic)


def subgroup_accuracy_gap(c: Context) -> float:
    s = _groups(c)
    correct = (logits(c.deployment.model, c.task.test.x).argmax(1) == c.task.test.y).numpy()
    return float(abs(correct[s == 0].mean() - correct[s == 1].mean()))


def model_capacity(c: Context) -> float:
    return float(torch.cat([p.detach().flatten() for p in c.deployment.model.parameters()]).norm())


def training_data_size(c: Context) -> float:
    return float(len(c.members))


def tail_length(c: Context) -> float:
    s = c.members.s
    if s.dim() != 1:
        raise UnknownFactor("tail length needs one sensitive attribute (the rare group)")
    return float(s.float().mean())


def stable_attribute_priority(c: Context) -> float:
    f = c.settings.synthetic
    if c.settings.dataset != "synthetic" or f is None:
        raise UnknownFactor(
            "stable-attribute priority needs the synthetic generator, which knows the stable attributes"
        )
    test = c.task.test.take(slice(0, RECORDS))
    mass = _grad(c.deployment.model, test.x, test.y).abs().mean(0)
    stable, spurious = mass[: f.n_stable].sum(), mass[f.n_stable : f.n_stable + f.n_spurious].sum()
    return float(stable / (stable + spurious))


def memorization_scores(deployment: Deployment, members, records: int, models: int, seed: int) -> np.ndarray:
    """Per record of the first ``records`` of ``members``: accuracy under the models (retrained on random halves
    of ``members``) that trained on it minus under those that did not; NaN where a side has no model."""
    rng = np.random.default_rng([seed, MEMORIZATION_SALT])
    halves = [np.sort(rng.permutation(len(members))[: len(members) // 2]) for _ in range(models)]
    seeds = [seed * 1000 + MEMORIZATION_SALT + i for i in range(models)]
    retrained = deployment.retrain_all([members.take(h) for h in halves], seeds)
    target = members.take(slice(0, records))
    correct = np.stack([(logits(d.model, target.x).argmax(1) == target.y).numpy() for d in retrained]).astype(float)
    inside = np.stack([np.isin(np.arange(len(target)), h) for h in halves])
    with np.errstate(invalid="ignore"):
        seen = (correct * inside).sum(0) / inside.sum(0)
        unseen = (correct * ~inside).sum(0) / (~inside).sum(0)
    return seen - unseen


def memorization(c: Context) -> float:
    scores = memorization_scores(c.deployment, c.members, MEMORIZATION_RECORDS, MEMORIZATION_MODELS, c.seed)
    return float(np.nanmean(scores))


ESTIMATORS: dict[str, Callable[[Context], float]] = {
    "overfitting": overfitting,
    "curvature-smoothness": curvature_smoothness,
    "boundary-distance": boundary_distance,
    "distinguishability-datasets": distinguishability_datasets,
    "distinguishability-subgroups": distinguishability_subgroups,
    "subgroup-accuracy-gap": subgroup_accuracy_gap,
    "model-capacity": model_capacity,
    "training-data-size": training_data_size,
    "tail-length": tail_length,
    "stable-attribute-priority": stable_attribute_priority,
    "memorization": memorization,
}


def estimate(factor: str, c: Context) -> float:
    """The estimate of ``factor`` (a KB factor id) on ``c``; :class:`UnknownFactor` when there is none."""
    if factor not in ESTIMATORS:
        raise UnknownFactor(f"no estimator for factor {factor!r}; measurable: {', '.join(ESTIMATORS)}")
    return ESTIMATORS[factor](c)
