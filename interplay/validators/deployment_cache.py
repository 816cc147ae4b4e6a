"""An in-process memo of loaded tasks and trained deployments, shared by the cells of one run (``validate --all``).

A task depends only on (settings, seed, data path); a deployment only on (defense, settings, task, training
data, seed), and training is deterministic per seed, so the baseline and each defense's model are trained
once per seed for every risk whose probe does not alter the training data, and so are the retrained models
(reference, shadow and victim models) that probes ask ``Deployment.retrain`` for. Every hit is a deep copy,
so a probe that changes a model it was given cannot leak into another cell; results are identical with and
without the cache.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import replace
from pathlib import Path

from interplay.validators.data import Split, Task
from interplay.validators.defenses.base import Defense, Deployment
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
        self.hits = self.misses = 0

    def task(self, settings: Settings, seed: int, data_path: Path | None) -> Task:
        key = (settings, seed, str(data_path) if data_path else None)
        if key not in self.tasks:
            self.tasks[key] = load_task(settings, seed, data_path)
        return self.tasks[key]

    def deploy(self, defense: Defense, train: Split, seed: int) -> Deployment:
        """``defense.deploy(train, seed)``, trained once; its ``retrain`` goes through the cache too."""
        key = (defense.slug, defense.settings, id(defense.task), digest(train), seed)
        hit = self.deployments.get(key)
        if hit is None or hit[0] is not defense.task:  # the task is kept alive with the entry, so ids stay unique
            self.misses += 1
            deployment = replace(defense.deploy(train, seed), retrain=lambda data, s: self.deploy(defense, data, s))
            self.deployments[key] = hit = (defense.task, deployment)
        else:
            self.hits += 1
        return copy.deepcopy(hit[1])
