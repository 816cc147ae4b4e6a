"""The whole defense x risk matrix in one run: every registered cell validated, tasks and deployments shared.

:func:`run_matrix` validates cell after cell (each through :func:`~interplay.validators.experiment.run_validation`,
so every finished seed is in the store and an interrupted run resumes where it stopped) inside one
:func:`~interplay.validators.experiment.sharing_deployments` block, so the baseline and each defense are
trained once per seed. A cell without a plugin, or whose probe or defense does not apply to the task (what it
``needs`` from the data, :mod:`.needs`), is a record too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from interplay.validators.experiment import Judge, ValidationConfig, run_validation, sharing_deployments
from interplay.validators.registry import DEFENSES, RISKS
from interplay.validators.risks.base import ProbeUnsupported
from interplay.validators.settings import Settings
from interplay.validators.store import ResultStore

NOT_REGISTERED, UNSUPPORTED = "not registered", "unsupported"


@dataclass(frozen=True)
class CellSetting:
    """A cell's own conditions (a literature setting): its settings, data path, primary metric, regime, and the
    ``setting`` record for its document."""

    settings: Settings
    data_path: str | None = None
    metric: str | None = None
    regime: str | None = None
    record: dict = field(default_factory=lambda: {"name": "generic"})


@dataclass(frozen=True)
class MatrixCell:
    """One defense x risk pair to validate: the judge that adds its prediction and verdict, what the literature
    reports (or ``unexplored``), the defense's intended risks, and the cell's own conditions (None: the run's)."""

    defense: str
    risk: str
    judge: Judge
    prediction: str
    literature: str
    targets: tuple[str, ...] = ()
    setting: CellSetting | None = None

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
    ``unsupported`` record (``observed`` None), decided on seed 0's task before anything of the cell is trained.
    ``advance(cell, n)`` reports ``n`` more seeds done."""
    records = []
    with sharing_deployments() as cache:
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
                own = c.setting or CellSetting(settings, data_path)
                task = cache.task(own.settings, 0, Path(own.data_path) if own.data_path else None)
                DEFENSES[c.defense](own.settings, task)  # what each needs from the data, before any training
                RISKS[c.risk](own.settings, task)
                cfg = ValidationConfig(
                    c.defense, c.risk, own.settings, c.targets, own.data_path, own.metric, own.regime,
                    own.record["name"],
                )  # fmt: skip
                doc = run_validation(cfg, seeds, c.judge, store, on_seed, annotate={"setting": own.record})
                records.append(doc | base)
            except ProbeUnsupported as exc:  # includes a missing observable
                records.append(base | {"observed": None, "verdict": UNSUPPORTED, "reason": str(exc)})
                if advance:
                    advance(c, seeds - done)
    return records
