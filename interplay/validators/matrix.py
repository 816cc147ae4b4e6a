"""The whole defense x risk matrix in one run: every registered cell validated, tasks and deployments shared.

:func:`run_matrix` validates cell after cell (each through :func:`~interplay.validators.experiment.run_validation`,
so every finished seed is in the store and an interrupted run resumes where it stopped) inside one
:func:`~interplay.validators.experiment.sharing_deployments` block, so the baseline and each defense are
trained once per seed. A cell without a plugin, or whose probe does not apply to the task, is a record too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from interplay.validators.experiment import Judge, ValidationConfig, run_validation, sharing_deployments
from interplay.validators.registry import DEFENSES, RISKS
from interplay.validators.risks.base import ProbeUnsupported
from interplay.validators.settings import Settings
from interplay.validators.store import ResultStore

NOT_REGISTERED, UNSUPPORTED = "not registered", "unsupported"


@dataclass(frozen=True)
class MatrixCell:
    """One defense x risk pair to validate: the judge that adds its prediction and verdict, what the literature
    reports (or ``unexplored``) and the defense's intended risks."""

    defense: str
    risk: str
    judge: Judge
    prediction: str
    literature: str
    targets: tuple[str, ...] = ()

    @property
    def registered(self) -> bool:
        return self.defense in DEFENSES and self.risk in RISKS


def run_matrix(
    cells: list[MatrixCell],
    settings: Settings,
    seeds: int,
    store: ResultStore | None = None,
    data_path: str | None = None,
    advance: Callable[[MatrixCell, int], None] | None = None,
) -> list[dict]:
    """One record per cell: the validation document plus ``literature``, or a ``not registered`` /
    ``unsupported`` record (``observed`` None). ``advance(cell, n)`` reports ``n`` more seeds done."""
    records = []
    with sharing_deployments():
        for c in cells:
            base = {
                "defense": c.defense,
                "risk": c.risk,
                "prediction": c.prediction,
                "literature": c.literature,
                "registered": c.registered,
            }
            if not c.registered:
                records.append(base | {"observed": None, "verdict": NOT_REGISTERED})
                continue
            done = 0

            def on_seed(seed: int, cached: bool, cell: MatrixCell = c) -> None:
                nonlocal done
                done += 1
                if advance:
                    advance(cell, 1)

            try:
                cfg = ValidationConfig(c.defense, c.risk, settings, c.targets, data_path)
                records.append(run_validation(cfg, seeds, c.judge, store, on_seed) | base)
            except ProbeUnsupported as exc:  # includes a missing observable
                records.append(base | {"observed": None, "verdict": UNSUPPORTED, "reason": str(exc)})
                if advance:
                    advance(c, seeds - done)
    return records
