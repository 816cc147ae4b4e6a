"""The defense plugin interface: a defense turns a task into a deployed model plus what an adversary sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from interplay.validators import batched
from interplay.validators.batched import PLAIN, Recipe
from interplay.validators.data import Split, Task
from interplay.validators.models import build_model, is_builtin
from interplay.validators.needs import check_needs
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
    watermark added its triggers); probes score members from them. ``retrain_many``: ``retrain`` on several
    datasets at once (see :meth:`retrain_all`). ``forgotten``: the records a service that honours deletion requests
    trained on and then deleted (not among ``trained_on``).
    """

    model: nn.Module
    observables: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    retrain: Callable[[Split, int], Deployment] | None = None
    trained_on: Split | None = None
    retrain_many: Callable[[list[Split], list[int]], list[Deployment]] | None = None
    forgotten: Split | None = None

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
    # Per KB target, the raw metric of its probe on which the effectiveness is judged instead of the probe's score
    # (unlearning: the membership of the deleted records).
    target_metrics: ClassVar[dict[str, str]] = {}
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
        """Train on ``train`` with this defense and return the deployment: by the batched trainer with one model when
        the defense has a recipe (:meth:`recipe`), so that a model trained alone is the model trained in a batch
        (:func:`deploy_all`); by ``fit`` with the defense's hooks otherwise (:meth:`deploy_alone`)."""
        if batched.enabled() and self.recipe() is not None:
            return deploy_all([(self, train, seed)])[0]
        return self.deploy_alone(train, seed)

    def deploy_alone(self, train: Split, seed: int) -> Deployment:
        """The template for one model: ``fit`` with :meth:`hooks` (the path of a defense without a batch recipe)."""
        seed_everything(seed)
        data = self.alter_training_data(train, seed)
        model = self.build()
        hooks = self.hooks()
        fit(model, data, self.settings.train, seed, hooks)
        model = self.after_training(model, data, seed)
        return self._deployment(model, data, hooks.metadata())

    def batch_recipe(self) -> Recipe | None:
        """How this defense's models train in a batch (:mod:`~interplay.validators.batched`), or None when they cannot
        (they then train one by one with :meth:`hooks`). The default: the plain recipe when neither ``build`` nor the
        training loop is changed (``hooks`` may only add metadata; the data may be altered before training and the
        model after it). A defense that changes the loop declares its batched recipe (adversarial training, DP-SGD)."""
        if type(self).build is not DefensePlugin.build:
            return None
        hooks = type(self.hooks())
        loop = ("prepare", "loss", "finish")
        return PLAIN if all(getattr(hooks, step) is getattr(TrainingHooks, step) for step in loop) else None

    def recipe(self) -> Recipe | None:
        """The recipe :func:`deploy_all` trains this defense's models by, or None (one by one by :meth:`deploy`): the
        :meth:`batch_recipe`, but None for a defense that overrides ``deploy`` and for a user's model (it may hold
        state, e.g. batch norm or dropout, that vmapped training would not reproduce). With batching off
        (:func:`~interplay.validators.batched.one_by_one`), the plain recipe for :meth:`plain_recipe` defenses only."""
        cls = type(self)
        if cls.deploy is not DefensePlugin.deploy or not is_builtin(self.settings.train.capacity):
            return None
        if not batched.enabled():
            return PLAIN if self.plain_recipe() else None
        # a declared recipe describes the loop of the class that declares it: a subclass that changes the model or
        # the loop without declaring its own trains one by one (the default recipe checks both itself)
        declared = _owner(cls, "batch_recipe")
        changed = (_owner(cls, "hooks"), _owner(cls, "build"))
        if declared is not DefensePlugin and not all(issubclass(declared, c) for c in changed):
            return None
        return self.batch_recipe()

    @classmethod
    def plain_recipe(cls) -> bool:
        """Whether the defense trains the settings' model with the plain recipe on unaltered data and deploys it
        as trained (what it adds is only observables)."""
        steps = ("deploy", "alter_training_data", "build", "hooks", "after_training")
        return all(getattr(cls, step) is getattr(DefensePlugin, step) for step in steps)

    def deploy_many(self, trains: list[Split], seeds: list[int]) -> list[Deployment]:
        """``deploy`` on each of ``trains`` with its seed: the same deployments, with the models trained in batches
        where the recipe allows (:func:`deploy_all`)."""
        return deploy_all([(self, t, s) for t, s in zip(trains, seeds, strict=True)])

    def _deployment(self, model: nn.Module, data: Split, metadata: dict[str, Any]) -> Deployment:
        observables = dict.fromkeys(BASE_OBSERVABLES, True) | self.observables(model, data)
        return Deployment(
            model, observables, metadata, retrain=self.deploy, trained_on=data, retrain_many=self.deploy_many
        )


def _owner(cls: type, name: str) -> type:
    """The class in ``cls``'s hierarchy that defines attribute ``name``."""
    return next(k for k in cls.__mro__ if name in vars(k))


@dataclass
class _Pending:
    """A job of :func:`deploy_all` waiting for its batch: the model built and the data altered as ``deploy`` would."""

    index: int
    defense: DefensePlugin
    data: Split
    seed: int
    model: nn.Module
    rng_state: torch.Tensor  # torch's generator where ``deploy`` would start ``fit``


def deploy_all(jobs: Sequence[tuple[DefensePlugin, Split, int]]) -> list[Deployment]:
    """``defense.deploy(train, seed)`` for each job (each defense on its own task), the models of the jobs whose recipes
    (:meth:`DefensePlugin.recipe`), architectures, training settings and training-set sizes agree trained together
    (:func:`~interplay.validators.batched.train`), the others one by one by their ``deploy``. Each model is built and
    its data altered as ``deploy`` would (after ``seed_everything(seed)``), and torch's generator is set where
    ``deploy``'s training would leave it before ``after_training`` and ``observables`` run."""
    done: dict[int, Deployment] = {}
    groups: dict[tuple, list[_Pending]] = {}
    for i, (defense, train, seed) in enumerate(jobs):
        recipe = defense.recipe()
        if recipe is None:
            done[i] = defense.deploy(train, seed)
            continue
        seed_everything(seed)
        data = defense.alter_training_data(train, seed)
        model = defense.build()
        key = (recipe, defense.settings.train, len(data), batched.architecture(model))
        groups.setdefault(key, []).append(_Pending(i, defense, data, seed, model, torch.get_rng_state()))
    for (recipe, spec, *_), group in groups.items():
        if len(group) == 1 and not batched.enabled():  # before batching: a plain model trained alone by ``fit``
            job = group[0]
            done[job.index] = job.defense.deploy_alone(jobs[job.index][1], job.seed)
            continue
        models, datas = [j.model for j in group], [j.data for j in group]
        trained = batched.train(models, datas, [j.seed for j in group], spec, recipe, [j.rng_state for j in group])
        for job, t in zip(group, trained, strict=True):
            torch.set_rng_state(t.rng_state)
            model = job.defense.after_training(job.model, job.data, job.seed)
            metadata = t.facts if t.facts is not None else job.defense.hooks().metadata()
            done[job.index] = job.defense._deployment(model, job.data, metadata)
    return [done[i] for i in range(len(jobs))]
