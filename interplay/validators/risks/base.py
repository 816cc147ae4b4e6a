"""The risk-probe interface: measure a deployment; higher susceptibility means more at risk."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar

from interplay.validators.calibration import Headroom
from interplay.validators.data import Split, Task
from interplay.validators.defenses.base import Deployment
from interplay.validators.needs import ProbeUnsupported, check_needs
from interplay.validators.params import NoParams
from interplay.validators.settings import Settings
from interplay.validators.stats import Scale

__all__ = ["Measurement", "Metric", "ProbeUnsupported", "RiskProbe"]


@dataclass(frozen=True)
class Metric:
    """A raw metric a cell may declare as its primary one: the observables it reads, its chance level, its ceiling
    and whether it is read as a ratio (:class:`~interplay.validators.stats.Scale`)."""

    reads: tuple[str, ...] = ("logits",)
    chance: float = 0.0
    ceiling: float = 1.0
    ratio: bool = False


@dataclass(frozen=True)
class Measurement:
    """``score``: the susceptibility (higher = more at risk); ``raw``: the attack's own metrics."""

    score: float
    raw: dict[str, float]


class RiskProbe:
    """Base class of the risk probes.

    ``metric`` names the score (higher = more at risk), ``chance`` is its value for an attack that learns
    nothing and ``ceiling`` the most it can reach (the smallest effects of interest are shares of the baseline's
    distance to each, see :func:`~interplay.validators.stats.min_effect_band`). ``requires`` lists the deployment
    observables the attack cannot do without, ``reads`` those its score also uses when a deployment offers them
    (e.g. explanations):
    a defense that leaves the model as it is and adds nothing the probe reads cannot change the score, and the
    cell is ``not-applicable``. A probe registers with ``@register_risk(slug)`` and declares ``Params`` and
    ``dataset_defaults`` as a defense does, and may declare a ``headroom`` rule that sets one of them from the
    baseline's score on pilot seeds (:mod:`~interplay.validators.calibration`).

    A probe that must alter the training data (e.g. poisoning) overrides ``alter_training_data``; the models
    it measures are then trained on the altered data. Otherwise it measures members: the records that every
    compared deployment trained on. ``prepare`` sees all compared deployments before any is measured (e.g.
    to attack only records that every one classifies correctly); ``state`` names what it kept, so that a
    memoized measurement is reused only under the same state.
    """

    slug: ClassVar[str]
    metric: ClassVar[str]
    chance: ClassVar[float] = 0.0
    ceiling: ClassVar[float] = 1.0  # the most the score can reach
    requires: ClassVar[tuple[str, ...]] = ("logits",)
    reads: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type] = NoParams
    dataset_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    headroom: ClassVar[Headroom | None] = None
    # Raw metrics a cell may declare as its primary one (a fact its paper states; higher = more at risk), each
    # with the observables it reads. The probe's own score always qualifies.
    metrics: ClassVar[dict[str, Metric]] = {}
    # What the probe needs from the data (:mod:`~interplay.validators.needs`: binary, sensitive, trigger), checked
    # before anything is trained.
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Settings, task: Task):
        self.settings, self.task = settings, task
        self.params: Any = settings.params_for(type(self))
        check_needs(getattr(self, "slug", type(self).__name__), self.needs, task)
        self.check(task)

    @classmethod
    def metric_for(cls, settings: Settings) -> str:
        """The score's metric under ``settings`` (a probe whose parameters choose the attack may change it)."""
        return cls.metric

    @classmethod
    def headroom_for(cls, settings: Settings) -> Headroom | None:
        """The headroom rule under ``settings`` (None: no parameter is calibrated)."""
        return cls.headroom

    @classmethod
    def observables_read(cls, metric: str | None = None) -> frozenset[str]:
        """What the score reads; with ``metric`` (one of ``metrics``), what that raw metric reads."""
        if metric is None or metric == cls.metric:
            return frozenset((*cls.requires, *cls.reads))
        return frozenset(cls.metrics[metric].reads)

    @classmethod
    def scale_of(cls, metric: str | None = None) -> Scale:
        """Chance level, ceiling and reading of the score, or of raw ``metric`` (one of ``metrics``)."""
        if metric is None or metric == cls.metric:
            return Scale(cls.chance, cls.ceiling)
        m = cls.metrics[metric]
        return Scale(m.chance, m.ceiling, m.ratio)

    @classmethod
    def alters_training_data(cls) -> bool:
        return cls.alter_training_data is not RiskProbe.alter_training_data

    def check(self, task: Task) -> None:
        """Raise :class:`ProbeUnsupported` if the probe does not apply to ``task``."""

    def alter_training_data(self, train: Split, seed: int) -> Split:
        return train

    def prepare(self, deployments: dict[str, Deployment], seed: int) -> None:
        """See every deployment to be compared (``baseline`` among them) before measuring any."""

    def retrains(self, seed: int) -> list[tuple[list[Split], list[int]]]:
        """The (datasets, seeds) on which :meth:`measure` will retrain each deployment it measures on ``seed``
        (``Deployment.retrain_all``, e.g. reference models), where known before measuring: a validation trains them
        ahead with the deployments, the seeds' in batches (:func:`~interplay.validators.experiment._prefetch`)."""
        return []

    def state(self) -> Hashable:
        """What :meth:`prepare` kept, as a memo key."""
        return None

    def measure(self, deployment: Deployment, train: Split, seed: int) -> Measurement:
        """Attack ``deployment``, trained on ``train`` (the members); deterministic per ``seed``."""
        raise NotImplementedError
