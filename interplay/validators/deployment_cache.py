"""An in-process memo of loaded tasks and trained deployments, shared by the cells of one run (``validate --all``).

A task depends only on (settings, seed, data path); a deployment only on (defense, settings, task, training
data, seed), and training is deterministic per seed, so the baseline and each defense's model are trained
once per seed for every risk whose probe does not alter the training data, and so are the retrained models
(reference, shadow and victim models) that probes ask ``Deployment.retrain`` for. A probe's measurement of
a deployment handed out here depends only on (probe, settings, deployment, data, seed) too (probes are
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
        key = (defense.slug, defense.settings, id(defense.task), digest(train), seed)
        hit = self.deployments.get(key)
        if hit is None or hit[0] is not defense.task:  # the task is kept alive with the entry, so ids stay unique
            self.misses += 1
            deployment = replace(defense.deploy(train, seed), retrain=lambda data, s: self.deploy(defense, data, s))
            self.deployments[key] = hit = (defense.task, deployment)
        else:
            self.hits += 1
        handed = copy.deepcopy(hit[1])
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
