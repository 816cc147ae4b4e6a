"""Group fairness by fairness-constrained training: a parity penalty on the training loss.

The classifier minimises ``cross-entropy + lambda * || E[softmax | s=0] - E[softmax | s=1] ||_1 / 2``
per batch, the differentiable demographic-parity relaxation used by in-processing methods such as
Zafar et al. (2017) and Padala and Gujar (2020). With ``notion`` equalized-odds (Hardt et al. 2016: equal
true- and false-positive rates across groups), the same gap is taken within each true label and summed over
the labels, i.e. parity conditional on the label. We chose it over the SoK's adversarial debiasing:
on our data the min-max game (classifier minus lambda times an adversary's loss) oscillated and
sometimes raised the parity gap, whereas the penalty is stable and targets the metric the
discrimination probe reports. Not fairlearn's reductions (ExponentiatedGradient): they fit
scikit-learn estimators, not the shared torch training loop every other defense and the baseline use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F

from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.params import PluginParams, param
from interplay.validators.registry import register_defense
from interplay.validators.training import TrainingHooks


def parity_gap(probs: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Half the L1 distance between the groups' mean predicted distributions (0 if a group is absent);
    summed over the attributes when ``s`` has one column per sensitive attribute."""
    if s.dim() == 2:
        return cast(torch.Tensor, sum(parity_gap(probs, col) for col in s.T))
    if s.min() == s.max():
        return probs.new_zeros(())
    return (probs[s == 0].mean(0) - probs[s == 1].mean(0)).abs().sum() / 2


NOTIONS = ("demographic-parity", "equalized-odds")


def odds_gap(probs: torch.Tensor, s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:func:`parity_gap` within each true label, summed over the labels (equalized odds)."""
    return cast(torch.Tensor, sum(parity_gap(probs[y == label], s[y == label]) for label in y.unique()))


class _ParityHooks(TrainingHooks):
    def __init__(self, lam: float, notion: str = "demographic-parity"):
        self.lam, self.notion = lam, notion

    def loss(self, model, x, y, s):
        out = model(x)
        probs = out.softmax(1)
        gap = odds_gap(probs, s, y) if self.notion == "equalized-odds" else parity_gap(probs, s)
        return F.cross_entropy(out, y) + self.lam * gap

    def metadata(self) -> dict:
        return {"fairness_lambda": self.lam}


@dataclass(frozen=True)
class GroupFairnessParams(PluginParams):
    lam: float = param(1.0, "weight of the parity penalty in the training loss", ge=0, le=1000)
    notion: str = param("demographic-parity", "the fairness notion the penalty enforces", choices=NOTIONS)


@register_defense("group-fairness")
class GroupFairness(DefensePlugin):
    """Fairness-constrained training: a demographic-parity (or equalized-odds) penalty on the training loss."""

    Params = GroupFairnessParams
    needs = ("sensitive",)  # the parity penalty reads s

    def hooks(self) -> TrainingHooks:
        return _ParityHooks(self.params.lam, self.params.notion)
