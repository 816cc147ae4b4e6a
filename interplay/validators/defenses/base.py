"""The defense plugin interface: a defense turns a task into a deployed model plus what an adversary sees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from interplay.validators.data import Split, Task
from interplay.validators.models import build_model, is_builtin
from interplay.validators.needs import check_needs
from interplay.validators.params import NoParams
from interplay.validators.settings import Settings
from interplay.validators.shadow import fit_batched
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
    watermark added its triggers); probes score members from them. ``retrain_many``: ``retrain`` on several
    datasets at once (see :meth:`retrain_all`).
    """

    model: nn.Module
    observables: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    retrain: Callable[[Split, int], Deployment] | None = None
    trained_on: Split | None = None
    retrain_many: Callable[[list[Split], list[int]], list[Deployment]] | None = None

    def retrain_all(self, datasets: list[Split], seeds: list[int]) -> list[Deployment]:
        """``retrain`` on each of ``datasets`` with its seed (in one batch where the recipe allows)."""
        if self.retrain_many is not None:
            return self.retrain_many(datasets, seeds)
        assert self.retrain is not None, "a deployment that can be retrained"
        return [self.retrain(d, s) for d, s in zip(datasets, seeds, strict=True)]


class DefensePlugin:
    """The undefended recipe; a defense overrides one or more of the steps below.

    ``deploy`` is a template: ``alter_training_data`` (e.g. outlier removal), ``build`` (the model, e.g. with
    dropout layers), ``hooks`` (change the training loop: loss, optimizer, loader), ``after_training`` (change
    the trained model, e.g. prune or quantize it), then ``observables`` (e.g. add explanations or a watermark
    key). A defense whose recipe fits none of these (a teacher and a student, a model before and after a
    deletion) overrides ``deploy`` itself and ends with :meth:`_deployment`. Subclasses register with
    ``@register_defense(slug)``, the KB's canonical defense slug.

    ``Params``: the plugin's parameters (a frozen dataclass of :func:`~interplay.validators.params.param`
    fields), resolved for the settings' dataset and overrides as ``self.params``; ``dataset_defaults``: per
    dataset, the defaults that differ from the dataclass's.

    ``lowers_targets``: whether the defense is meant to lower its KB target risks by itself, so that a
    validation checks its effectiveness on them. A transparency mechanism that leaves the model as it is
    (explanations, which the SoK files against discrimination as an audit aid) sets it to False; its
    ``defense_effective`` is then null (not applicable) rather than false, which would make every one of its
    cells inconclusive whatever was observed.

    ``needs``: what the defense needs from the data (:mod:`~interplay.validators.needs`, e.g. a sensitive
    attribute), and ``check``: any other condition on the task or the model; both raise ``ProbeUnsupported`` when
    the plugin is built on the task, before anything is trained.
    """

    slug: ClassVar[str] = "baseline"
    lowers_targets: ClassVar[bool] = True
    Params: ClassVar[type] = NoParams
    dataset_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Settings, task: Task):
        self.settings, self.task = settings, task
        self.params: Any = settings.params_for(type(self))
        check_needs(self.slug, self.needs, task)
        self.check(task)

    def check(self, task: Task) -> None:
        """Raise ``ProbeUnsupported`` if the defense cannot run on ``task`` (beyond its ``needs``)."""

    def alter_training_data(self, train: Split, seed: int) -> Split:
        return train

    def build(self) -> nn.Module:
        """A freshly initialised model of the settings' architecture (torch's generator is seeded)."""
        return build_model(self.task.input_shape, self.task.n_classes, self.settings.train.capacity)

    def hooks(self) -> TrainingHooks:
        return TrainingHooks()

    def after_training(self, model: nn.Module, data: Split, seed: int) -> nn.Module:
        """The deployed model made from the trained one (in eval mode)."""
        return model

    def observables(self, model: nn.Module, train: Split) -> dict[str, Any]:
        return {}

    def deploy(self, train: Split, seed: int) -> Deployment:
        """Train on ``train`` with this defense and return the deployment."""
        seed_everything(seed)
        data = self.alter_training_data(train, seed)
        model = self.build()
        hooks = self.hooks()
        fit(model, data, self.settings.train, seed, hooks)
        model = self.after_training(model, data, seed)
        return self._deployment(model, data, hooks.metadata())

    @classmethod
    def plain_recipe(cls) -> bool:
        """Whether the defense trains the settings' model with the plain recipe on unaltered data and deploys it
        as trained (what it adds is only observables)."""
        steps = ("deploy", "alter_training_data", "build", "hooks", "after_training")
        return all(getattr(cls, step) is getattr(DefensePlugin, step) for step in steps)

    def deploy_many(self, trains: list[Split], seeds: list[int]) -> list[Deployment]:
        """``deploy`` on each of ``trains`` with its seed: the same deployments, with the models trained in one
        vmapped pass (:mod:`~interplay.validators.shadow`) when the defense has the plain recipe
        (:meth:`plain_recipe`), the datasets are of one size and the model is a built-in one (a user's model may hold
        state, e.g. batch norm or dropout, that vmapped training would not reproduce); one after another otherwise."""
        batchable = self.plain_recipe() and is_builtin(self.settings.train.capacity)
        if not batchable or len(trains) < 2 or len({len(t) for t in trains}) != 1:
            return [self.deploy(t, s) for t, s in zip(trains, seeds, strict=True)]
        models, states = [], []
        for seed in seeds:
            seed_everything(seed)
            models.append(self.build())
            states.append(torch.get_rng_state())  # where ``deploy`` leaves torch's generator after training
        fit_batched(models, trains, seeds, self.settings.train)
        deployments = []
        for model, data, state in zip(models, trains, states, strict=True):
            torch.set_rng_state(state)
            deployments.append(self._deployment(model, data, TrainingHooks().metadata()))
        return deployments

    def _deployment(self, model: nn.Module, data: Split, metadata: dict[str, Any]) -> Deployment:
        observables = dict.fromkeys(BASE_OBSERVABLES, True) | self.observables(model, data)
        return Deployment(
            model, observables, metadata, retrain=self.deploy, trained_on=data, retrain_many=self.deploy_many
        )
