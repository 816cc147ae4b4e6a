"""The verdict rule: a prediction judged against a measurement (the join of the reasoner and the validators).

The validators measure and never see a prediction; the API hands them a judge built here, which adds the
prediction and the verdict to each measurement document. Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable

DIRECTED = ("increase", "decrease", "none")
ALPHA = 0.05
NOT_APPLICABLE = "not-applicable"
NOT_RUN = ("not registered", "unsupported", "not validated")


def band(min_effect: float | tuple[float, float] | list[float]) -> tuple[float, float]:
    """The smallest effects of interest as (decrease, increase) magnitudes; one number stands for both (records
    written before the band was directional)."""
    if isinstance(min_effect, int | float):
        return float(min_effect), float(min_effect)
    down, up = min_effect
    return float(down), float(up)


def verdict(
    prediction: str,
    observed: str,
    ci95: tuple[float, float],
    min_effect: float | tuple[float, float],
    defense_effective: bool | None,
) -> str:
    """Judge the reasoner's ``prediction`` against the measured effect; ``min_effect``: the smallest effects of
    interest, (decrease, increase) magnitudes (:func:`band`).

    - ``inconclusive`` when the defense did not work (``defense_effective`` is False: no significant
      decrease on any of its intended risks), or the prediction is ``ambiguous``/``unknown``.
    - ``confirmed`` when the observed direction equals a predicted ``increase``/``decrease``; for a
      predicted ``none``, when no effect of interest was observed and the whole 95% CI lies within
      (-decrease, +increase) (an equivalence test, so lack of power does not confirm "no effect").
    - ``refuted`` when an effect of interest goes against the prediction, or when an effect was
      predicted, none was observed, and the 95% CI rules out an effect of interest in the predicted direction.
    - ``inconclusive`` otherwise (an effect was predicted, none observed, the CI is too wide).
    """
    if defense_effective is False or prediction not in DIRECTED:
        return "inconclusive"
    lo, hi = ci95
    down, up = band(min_effect)
    if prediction == "none":
        if observed != "none":
            return "refuted"
        return "confirmed" if -down < lo and hi < up else "inconclusive"
    if observed == prediction:
        return "confirmed"
    if observed != "none":
        return "refuted"
    ruled_out = hi < up if prediction == "increase" else lo > -down
    return "refuted" if ruled_out else "inconclusive"


def judged(prediction: str, doc: dict) -> str:
    """The verdict on a measurement document: ``not-applicable`` when the measurement says the score could not
    differ (the defended model is the baseline and the probe reads nothing the defense adds), else :func:`verdict`."""
    if doc.get("applicable") is False:
        return NOT_APPLICABLE
    e = doc["effect"]
    return verdict(prediction, doc["observed"], tuple(e["ci95"]), _band_of(e), doc["defense_effective"])


def _band_of(effect: dict) -> tuple[float, float]:
    return band(effect.get("min_effect_band") or effect["min_effect"])


def classify(
    p_value: float,
    difference: float,
    ci95: tuple[float, float] | list[float],
    min_effect: float | tuple[float, float] | list[float],
) -> tuple[str, str]:
    """The observed direction and its evidence, with ``min_effect`` the smallest effects of interest (:func:`band`):

    - ``increase``/``decrease``, ``significant``: p < ALPHA and the difference at least the effect of interest in
      its direction;
    - ``none``, ``small``: p < ALPHA, but a smaller difference (its direction is :func:`signed_direction`'s);
    - ``none``, ``equivalent``: not significant and the 95% CI within (-decrease, +increase): no effect of interest;
    - ``none``, ``underpowered``: not significant and the CI reaches past the band: the experiment cannot tell.
    """
    down, up = band(min_effect)
    if p_value < ALPHA:
        if difference >= up or -difference >= down:
            return ("increase" if difference > 0 else "decrease"), "significant"
        return "none", "small"
    lo, hi = ci95
    return "none", ("equivalent" if -down < lo and hi < up else "underpowered")


def signed_direction(effect: dict) -> str:
    """The direction of a significant difference of any size (``significant`` or ``small``), else ``none``: what
    direction agreement with the literature counts."""
    if effect.get("evidence") not in ("significant", "small"):
        return "none"
    return "increase" if effect["difference"] > 0 else "decrease"


def validation_judge(prediction: str) -> Callable[[dict], dict]:
    """A judge for a validation's measurement document: adds ``prediction`` and ``verdict``."""

    def judge(doc: dict) -> dict:
        v = judged(prediction, doc)
        head = {
            "defense": doc["defense"],
            "risk": doc["risk"],
            "prediction": prediction,
            "observed": doc["observed"],
            "verdict": v,
        }
        return head | doc

    return judge


def combo_verdict(predicted: str, observed: str) -> str:
    """A predicted combination status (``effective``/``conflict``/``compatible``) against the observed one."""
    if predicted in ("ambiguous", "unknown") or observed in ("inconclusive", "unmeasured"):
        return "inconclusive"
    return "confirmed" if predicted == observed else "refuted"


def combo_judge(predicted: dict[str, str]) -> Callable[[dict], dict]:
    """A judge for a combination's measurement document; ``predicted`` maps each defense and ``"pair"``."""

    def judge(doc: dict) -> dict:
        sides = []
        for side in doc["sides"]:
            p = predicted[side["defense"]]
            head = {k: side[k] for k in ("defense", "with")}
            sides.append(
                head
                | {"prediction": p, "observed": side["observed"], "verdict": combo_verdict(p, side["observed"])}
                | side
            )
        pair = predicted["pair"]
        return (
            {
                "defenses": doc["defenses"],
                "prediction": pair,
                "observed": doc["observed"],
                "verdict": combo_verdict(pair, doc["observed"]),
            }
            | doc
            | {"sides": sides}
        )

    return judge


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    q, running = [1.0] * m, 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return q


def adjust_for_multiplicity(docs: list[dict]) -> None:
    """Add BH q-values across ``docs`` (validation documents of one matrix) and let q decide each direction: a
    difference counts only when q < ALPHA (and it is at least the smallest effect of interest); the evidence
    and the verdict follow. Documents without an effect (no experiment) are left as they are."""
    ran = [d for d in docs if d.get("effect")]
    for doc, q in zip(ran, benjamini_hochberg([d["effect"]["p_value"] for d in ran]), strict=True):
        e = doc["effect"]
        e["q_value"] = q
        doc["observed"], e["evidence"] = classify(q, e["difference"], e["ci95"], _band_of(e))
        if doc.get("prediction") is not None:
            doc["verdict"] = judged(doc["prediction"], doc)


OUTCOMES = ("agree", "disagree", "significant", "small", "equivalent", "underpowered", NOT_APPLICABLE, "not run")


def _effect_of(record: dict) -> dict:
    return record.get("effect") or (record.get("validation") or {}).get("effect") or {}


def outcome(record: dict) -> str:
    """How one cell's experiment came out, for the accounting: ``agree``/``disagree`` (an effect of interest, against
    a reported direction), ``significant`` (an unexplored cell), ``small`` (significant, below the effect of
    interest), ``equivalent``, ``underpowered``, ``not-applicable`` or ``not run``."""
    if record.get("verdict") in NOT_RUN or record.get("observed") is None:
        return "not run"
    if record.get("verdict") == NOT_APPLICABLE:
        return NOT_APPLICABLE
    if record["observed"] in ("increase", "decrease"):
        if record.get("literature") in ("increase", "decrease"):
            return "agree" if record["observed"] == record["literature"] else "disagree"
        return "significant"
    return _effect_of(record).get("evidence", "underpowered")


def direction_outcome(record: dict) -> str | None:
    """Direction agreement with a reported direction: ``agree``/``disagree`` for a significant difference of any size
    (:func:`signed_direction`), None when nothing significant was observed or no direction is reported."""
    if record.get("literature") not in ("increase", "decrease") or outcome(record) in (NOT_APPLICABLE, "not run"):
        return None
    observed = record["observed"]
    if observed not in ("increase", "decrease"):
        observed = signed_direction(_effect_of(record))
    if observed == "none":
        return None
    return "agree" if observed == record["literature"] else "disagree"


def accounting(records: list[dict]) -> dict[str, dict[str, int]]:
    """Outcomes over the cells with a reported direction (``directed``) and over the others (``unexplored``), and
    ``direction``: agreement of significant differences of any size with the reported direction."""
    out: dict[str, dict[str, int]] = {"directed": {}, "unexplored": {}, "direction": {"agree": 0, "disagree": 0}}
    for r in records:
        group = out["directed" if r.get("literature") in ("increase", "decrease") else "unexplored"]
        key = outcome(r)
        group[key] = group.get(key, 0) + 1
        signed = direction_outcome(r)
        if signed:
            out["direction"][signed] += 1
    return out


def accounting_line(records: list[dict]) -> str:
    """The accounting as one sentence."""
    counts_by_group = accounting(records)
    parts = []
    for group in ("directed", "unexplored"):
        counts = counts_by_group[group]
        n = sum(counts.values())
        if n:
            items = ", ".join(f"{counts[k]} {k}" for k in OUTCOMES if counts.get(k))
            parts.append(f"{n} {'with a reported direction' if group == 'directed' else 'unexplored'}: {items}")
    signed = counts_by_group["direction"]
    if sum(counts_by_group["directed"].values()):
        parts.append(f"direction (significant, any size): {signed['agree']} agree, {signed['disagree']} disagree")
    return "; ".join(parts)
