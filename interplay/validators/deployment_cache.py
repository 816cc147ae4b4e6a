"""An in-process memo of loaded tasks and trained deployments, shared by the cells of one run (``validate --all``).

A task depends only on (settings, seed, data path); a deployment only on (defense, settings, task, training
data, seed), and training is deterministic per seed, so the baseline and each defense's model are trained
once per seed for every risk whose probe does not alter the training data, and so are the retrained models
(reference, shadow and victim models) that probes ask ``Deployment.retrain`` or ``retrain_all`` for. A probe's
measurement of a deployment handed out here depends only on (probe, settings, deployment, data, seed) too (probes are
deterministic per seed), so a defense's intended risks, measured in each of its cells, are measured once.
Every hit is a deep copy, so a probe that changes a model it was given cannot leak into another cell; results
are identical with and without the cache.
"""

from __future__ import annotations

import copy
import hashlib
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from interplay.validators.data import Split, Task
from interplay.validators.defenses.base import DefensePlugin, Deployment, deploy_all
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.settings import Settings, load_task


def digest(split: Split) -> str:
    """A content hash of a split (features, labels, sensitive attribute)."""
    h = hashlib.sha256()
    for t in (split.x, split.y, split.s):
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


class DeploymentCache:
    def __init__(self) -> None:
        self.tasks: dict[tuple, Task] = {}
        self.deployments: dict[tuple, tuple[Task, Deployment]] = {}
        self.measurements: dict[tuple, Measurement] = {}
        self._handed: dict[int, tuple[weakref.ref, tuple]] = {}  # id of a copy handed out -> (the copy, its key)
        self.hits = self.misses = 0

    def task(self, settings: Settings, seed: int, data_path: Path | None) -> Task:
        key = (settings, seed, str(data_path) if data_path else None)
        if key not in self.tasks:
            self.tasks[key] = load_task(settings, seed, data_path)
        return self.tasks[key]

    def preload(self, settings: Settings, seed: int, data_path: Path | None, task: Task) -> None:
        """Hold ``task`` as what :meth:`task` returns for these arguments (a Ray worker gets it from the driver,
        which read the files: :mod:`.executors`)."""
        self.tasks.setdefault((settings, seed, str(data_path) if data_path else None), task)

    def deploy(self, defense: DefensePlugin, train: Split, seed: int) -> Deployment:
        """``defense.deploy(train, seed)``, trained once; its ``retrain`` goes through the cache too."""
        return self.deploy_jobs([(defense, train, seed)])[0]

    def deploy_many(self, defense: DefensePlugin, trains: list[Split], seeds: list[int]) -> list[Deployment]:
        """``defense.deploy_many(trains, seeds)``, each deployment trained once (the missing ones in one batch)."""
        return self.deploy_jobs([(defense, t, s) for t, s in zip(trains, seeds, strict=True)])

    def deploy_jobs(self, jobs: list[tuple[DefensePlugin, Split, int]]) -> list[Deployment]:
        """``defense.deploy(train, seed)`` for each job (defenses of any kind, each on its own task), each deployment
        trained once: the missing ones together, in batches where their recipes allow (:func:`.base.deploy_all`)."""
        keys = [(d.slug, d.settings, id(d.task), digest(t), s) for d, t, s in jobs]
        first: dict[tuple, int] = {}  # a job asked for twice trains once
        for i, (job, key) in enumerate(zip(jobs, keys, strict=True)):
            if self._entry(job[0], key) is None:
                first.setdefault(key, i)
        missing = list(first.values())
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if missing:
            trained = deploy_all([jobs[i] for i in missing])
            for i, deployment in zip(missing, trained, strict=True):
                defense = jobs[i][0]
                self.deployments[keys[i]] = (defense.task, self._through_cache(defense, deployment))
        return [self._hand_out(k) for k in keys]

    def _entry(self, defense: DefensePlugin, key: tuple) -> tuple[Task, Deployment] | None:
        hit = self.deployments.get(key)
        return hit if hit is not None and hit[0] is defense.task else None  # the task is kept alive with the entry

    def _through_cache(self, defense: DefensePlugin, deployment: Deployment) -> Deployment:
        return replace(
            deployment,
            retrain=lambda data, s: self.deploy(defense, data, s),
            retrain_many=lambda datas, ss: self.deploy_many(defense, datas, ss),
        )

    def _hand_out(self, key: tuple) -> Deployment:
        handed = copy.deepcopy(self.deployments[key][1])
        self._handed[id(handed)] = (weakref.ref(handed), key)
        return handed

    def measure(self, probe: RiskProbe, deployment: Deployment, train: Split, seed: int) -> Measurement:
        """``probe.measure(deployment, train, seed)``, once per probe (and its prepared state) and deployment handed
        out by :meth:`deploy`."""
        ref, key = self._handed.get(id(deployment), (None, None))
        if ref is None or ref() is not deployment:
            return probe.measure(deployment, train, seed)
        key = (probe.slug, probe.settings, id(probe.task), key, digest(train), seed, probe.state())
        if key not in self.measurements:
            self.measurements[key] = probe.measure(deployment, train, seed)
        return self.measurements[key]


_ACTIVE: DeploymentCache | None = None


@contextmanager
def sharing_deployments() -> Iterator[DeploymentCache]:
    """Within this block, validations reuse loaded tasks, trained deployments and their measurements."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, DeploymentCache()
    try:
        yield _ACTIVE
    finally:
        _ACTIVE = previous


def deploy(defense: DefensePlugin, train: Split, seed: int) -> Deployment:
    """``defense.deploy(train, seed)``: through the active cache (trained once in the block), else trained here."""
    return _ACTIVE.deploy(defense, train, seed) if _ACTIVE else defense.deploy(train, seed)


def active() -> DeploymentCache | None:
    """The cache of the innermost :func:`sharing_deployments` block, or None outside one."""
    return _ACTIVE
