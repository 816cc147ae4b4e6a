"""A cell's literature setting compiled into a run: the facts its paper states (the KB observation's ``setting``
block, as plain data) become a dataset, a regime, plugin choices and a primary metric; never a numeric knob
(those come from the regime's rule or the headroom calibration).

Facts and what they set: ``data`` (image -> Fashion-MNIST with the CNN, census -> Adult, tabular -> the synthetic
generator); ``regime`` (else the column's, :data:`~interplay.validators.regimes.COLUMN_REGIME`, and
``disparity`` for a subgroup attack); ``threat`` (the threat-model context keys plugins declare, e.g.
``theft``); ``attack`` (the poisoning kind: availability -> label-flip); ``fairness`` (the group-fairness
defense's notion; on the discrimination column, the equalized-odds difference as the metric); ``subgroup``
(the metric restricted to the unprivileged ``s = 1`` or privileged ``s = 0`` group); ``metric`` (a raw metric
the risk's probe declares); ``removal`` (outlier removal's criterion: the most anomalous records, or those most
exposed to the auditor's membership attack).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interplay.errors import UsageError
from interplay.validators.regimes import COLUMN_REGIME
from interplay.validators.registry import RISKS, check_metric, overrides

DATA_KINDS = {"image": "fashion-mnist", "census": "adult", "tabular": "synthetic"}
ATTACKS = {"availability": "label-flip", "backdoor": "backdoor"}
SUBGROUPS = {"unprivileged": 1, "privileged": 0}
SETTINGS = ("auto", "literature", "generic")


class SettingError(UsageError, ValueError):
    """A literature setting that cannot be compiled for its cell."""


@dataclass(frozen=True)
class LiteratureRun:
    """What a cell's facts set: ``dataset`` (None: the caller's), ``regime``, ``overrides`` (``(slug, key,
    value)``), ``metric`` (None: the probe's score) and the ``facts`` themselves (value, ref, locator)."""

    dataset: str | None = None
    regime: str | None = None
    overrides: tuple[tuple[str, str, Any], ...] = ()
    metric: str | None = None
    facts: dict = field(default_factory=dict)


def _value(facts: dict, name: str) -> str | None:
    fact = facts.get(name)
    return fact["value"] if fact else None


def compile_setting(facts: dict, defense: str, risk: str) -> LiteratureRun:
    """The run ``facts`` (a KB ``setting`` block as a dict; empty for a cell without one) declare for the cell."""
    data, attack, fairness = _value(facts, "data"), _value(facts, "attack"), _value(facts, "fairness")
    subgroup, metric, removal = _value(facts, "subgroup"), _value(facts, "metric"), _value(facts, "removal")
    chosen: list[tuple[str, str, Any]] = []
    if attack is not None:
        if risk != "poisoning":
            raise SettingError(f"{defense} -> {risk}: an attack kind ({attack}) is declared for poisoning cells only")
        chosen.append(("poisoning", "kind", ATTACKS[attack]))
    if removal is not None:
        if defense != "outlier-removal":
            raise SettingError(f"{defense} -> {risk}: a removal criterion ({removal}) is declared for outlier removal")
        chosen.append(("outlier-removal", "criterion", removal))
    if fairness is not None:
        if defense == "group-fairness":
            chosen.append(("group-fairness", "notion", fairness))
        if risk == "discrimination" and metric is None and fairness == "equalized-odds":
            metric = "equalized_odds_difference"
    if subgroup is not None:
        metric = f"{metric or RISKS[risk].metric}_s{SUBGROUPS[subgroup]}"
    check_metric(risk, metric)
    threat = {key: fact["value"] for key, fact in (facts.get("threat") or {}).items()}
    regime = _value(facts, "regime") or ("disparity" if subgroup else COLUMN_REGIME.get(risk))
    return LiteratureRun(
        DATA_KINDS[data] if data else None,
        regime,
        tuple(sorted([*chosen, *overrides([], threat)])),
        metric,
        facts,
    )
