"""The verdict rule: a prediction judged against a measurement (the join of the reasoner and the validators).

The validators measure and never see a prediction; the API hands them a judge built here, which adds the
prediction and the verdict to each measurement document. Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable

DIRECTED = ("increase", "decrease", "none")


def verdict(
    prediction: str, observed: str, ci95: tuple[float, float], min_effect: float, defense_effective: bool | None
) -> str:
    """Judge the reasoner's ``prediction`` against the measured effect.

    - ``inconclusive`` when the defense did not work (``defense_effective`` is False: no significant
      decrease on any of its intended risks), or the prediction is ``ambiguous``/``unknown``.
    - ``confirmed`` when the observed direction equals a predicted ``increase``/``decrease``; for a
      predicted ``none``, when nothing significant was observed and the whole 95% CI lies within
      +-``min_effect`` (an equivalence test, so lack of power does not confirm "no effect").
    - ``refuted`` when a significant effect goes against the prediction, or when an effect was
      predicted, none was observed, and the 95% CI rules out an effect of ``min_effect`` in the
      predicted direction.
    - ``inconclusive`` otherwise (an effect was predicted, none observed, the CI is too wide).
    """
    if defense_effective is False or prediction not in DIRECTED:
        return "inconclusive"
    lo, hi = ci95
    if prediction == "none":
        if observed != "none":
            return "refuted"
        return "confirmed" if -min_effect < lo and hi < min_effect else "inconclusive"
    if observed == prediction:
        return "confirmed"
    if observed != "none":
        return "refuted"
    ruled_out = hi < min_effect if prediction == "increase" else lo > -min_effect
    return "refuted" if ruled_out else "inconclusive"


def validation_judge(prediction: str) -> Callable[[dict], dict]:
    """A judge for a validation's measurement document: adds ``prediction`` and ``verdict``."""

    def judge(doc: dict) -> dict:
        e = doc["effect"]
        v = verdict(prediction, doc["observed"], tuple(e["ci95"]), e["min_effect"], doc["defense_effective"])
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
