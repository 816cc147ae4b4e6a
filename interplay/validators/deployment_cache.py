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
from dataclasses import replace
from pathlib import Path

from interplay.validators.data import Split, Task
from interplay.validators.defenses.base import DefensePlugin, Deployment
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

    def deploy(self, defense: DefensePlugin, train: Split, seed: int) -> Deployment:
        """``defense.deploy(train, seed)``, trained once; its ``retrain`` goes through the cache too."""
        return self.deploy_many(defense, [train], [seed])[0]

    def deploy_many(self, defense: DefensePlugin, trains: list[Split], seeds: list[int]) -> list[Deployment]:
        """``defense.deploy_many(trains, seeds)``, each deployment trained once (the missing ones in one batch)."""
        pairs = zip(trains, seeds, strict=True)
        keys = [(defense.slug, defense.settings, id(defense.task), digest(t), s) for t, s in pairs]
        missing = [i for i, k in enumerate(keys) if self._entry(defense, k) is None]
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if missing:
            trained = defense.deploy_many([trains[i] for i in missing], [seeds[i] for i in missing])
            for i, deployment in zip(missing, trained, strict=True):
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
