"""The risk-probe interface: measure a deployment; higher susceptibility means more at risk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from interplay.errors import UsageError
from interplay.validators.data import Split, Task
from interplay.validators.defenses.base import Deployment
from interplay.validators.params import NoParams
from interplay.validators.settings import Settings


class ProbeUnsupported(UsageError, ValueError):
    """The probe cannot run on this task (e.g. a fairness metric on a multi-class task)."""


@dataclass(frozen=True)
class Measurement:
    """``score``: the susceptibility (higher = more at risk); ``raw``: the attack's own metrics."""

    score: float
    raw: dict[str, float]


class RiskProbe:
    """Base class. ``metric`` names the score; ``min_effect`` is the smallest difference in the score
        that counts as a real effect; ``requires`` lists the deployment observables the attack uses. A probe
    registers with ``@register_risk(slug)`` and declares ``Params`` and ``dataset_defaults`` as a defense does.

        A probe that must alter the training data (e.g. poisoning) overrides ``alter_training_data``;
        the models it measures are then trained on the altered data.
    """

    slug: ClassVar[str]
    metric: ClassVar[str]
    min_effect: ClassVar[float]
    requires: ClassVar[tuple[str, ...]] = ("logits",)
    Params: ClassVar[type] = NoParams
    dataset_defaults: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, settings: Settings, task: Task):
        self.settings, self.task = settings, task
        self.params: Any = settings.params_for(type(self))
        self.check(task)

    def check(self, task: Task) -> None:
        """Raise :class:`ProbeUnsupported` if the probe does not apply to ``task``."""

    def alter_training_data(self, train: Split, seed: int) -> Split:
        return train

    def measure(self, deployment: Deployment, train: Split, seed: int) -> Measurement:
        """Attack ``deployment``, trained on ``train`` (the members); deterministic per ``seed``."""
        raise NotImplementedError
