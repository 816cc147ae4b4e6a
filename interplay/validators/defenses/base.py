"""The defense plugin interface: a defense turns a task into a deployed model plus what an adversary sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import nn

from interplay.validators.data import Split, Task
from interplay.validators.models import build_model
from interplay.validators.params import NoParams
from interplay.validators.settings import Settings
from interplay.validators.training import TrainingHooks, fit, seed_everything

# Observables every deployment offers: black-box logits and, for white-box attacks, the weights.
BASE_OBSERVABLES = ("logits", "white_box")


@dataclass
class Deployment:
    """A trained model as deployed, with the observables an adversary may use.

    ``observables`` maps a name to a value or a callable (e.g. ``"logits"``, ``"white_box"``, later
    ``"explanations"``, ``"fingerprint_queries"``, ``"watermark_key"``). ``metadata`` holds facts about
    the training (e.g. ``epsilon``). ``retrain`` trains a fresh deployment with the same recipe on
    other data: the adversary who knows the training algorithm (shadow and reference models).
    ``trained_on``: the records the model actually trained on (after outlier removal dropped some, or a
    watermark added its triggers); probes score members from them.
    """

    model: nn.Module
    observables: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    retrain: Callable[[Split, int], Deployment] | None = None
    trained_on: Split | None = None


class DefensePlugin:
    """The undefended recipe; a defense overrides one or more of the steps below.

    ``deploy`` is a template: ``alter_training_data`` (e.g. outlier removal), ``hooks`` (change the
    training loop: loss, optimizer, loader), then ``observables`` (e.g. add explanations or a
    watermark key). Subclasses register with ``@register_defense(slug)``, the KB's canonical defense slug.

    ``Params``: the plugin's parameters (a frozen dataclass of :func:`~interplay.validators.params.param`
    fields), resolved for the settings' dataset and overrides as ``self.params``; ``dataset_defaults``: per
    dataset, the defaults that differ from the dataclass's.

    ``lowers_targets``: whether the defense is meant to lower its KB target risks by itself, so that a
    validation checks its effectiveness on them. A transparency mechanism that leaves the model as it is
    (explanations, which the SoK files against discrimination as an audit aid) sets it to False; its
    ``defense_effective`` is then null (not applicable) rather than false, which would make every one of its
    cells inconclusive whatever was observed.
    """

    slug: ClassVar[str] = "baseline"
    lowers_targets: ClassVar[bool] = True
    Params: ClassVar[type] = NoParams
    dataset_defaults: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, settings: Settings, task: Task):
        self.settings, self.task = settings, task
        self.params: Any = settings.params_for(type(self))

    def alter_training_data(self, train: Split, seed: int) -> Split:
        return train

    def hooks(self) -> TrainingHooks:
        return TrainingHooks()

    def observables(self, model: nn.Module, train: Split) -> dict[str, Any]:
        return {}

    def deploy(self, train: Split, seed: int) -> Deployment:
        """Train on ``train`` with this defense and return the deployment."""
        seed_everything(seed)
        data = self.alter_training_data(train, seed)
        model = build_model(self.task.input_shape, self.task.n_classes, self.settings.train.capacity)
        hooks = self.hooks()
        fit(model, data, self.settings.train, seed, hooks)
        observables = dict.fromkeys(BASE_OBSERVABLES, True) | self.observables(model, data)
        return Deployment(model, observables, hooks.metadata(), retrain=self.deploy, trained_on=data)
