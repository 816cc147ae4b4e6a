"""The mediators of a prediction, checked: did the factors on its paths move as each path says?

A path defense -> f1 -> f2 -> ... -> risk predicts, at each factor it passes, the direction that factor moves under
the defense: the product of the edge signs up to it. Given the directions measured on the baseline and the
defended model (``interplay measure``), each measured factor on a path is a ``step`` that ``agrees`` with the
path, ``disagrees`` (a significant move the other way) or shows ``none``. Torch-free: the measurements are plain
data.
"""

from __future__ import annotations

from interplay.interactions.prediction import Prediction
from interplay.interactions.signs import DIRECTION, FROM_WORD, Sign, product


def path_steps(prediction: Prediction, observed: dict[str, str]) -> list[dict]:
    """Per path of ``prediction`` (supporting, opposing, other), the measured factors on it: the direction the
    path predicts for each and the ``observed`` one (factor -> increase | decrease | none)."""
    out = []
    roles = (("supporting", prediction.supporting), ("opposing", prediction.opposing), ("other", prediction.neutral))
    for role, paths in roles:
        for path in paths:
            sign: Sign = "+"
            steps = []
            for edge in path.edges[:-1]:  # the last edge ends at the risk
                sign = product(sign, FROM_WORD[edge.sign])
                if edge.target in observed:
                    expected, seen = DIRECTION[sign], observed[edge.target]
                    status = "none" if seen == "none" else ("agrees" if seen == expected else "disagrees")
                    steps.append({"factor": edge.target, "expected": expected, "observed": seen, "status": status})
            out.append({"nodes": path.nodes, "role": role, "sign": path.sign, "steps": steps})
    return out
