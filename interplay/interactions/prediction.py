"""A prediction of one defense -> risk cell: its direction, how it was resolved, and the paths behind it."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interplay.interactions.paths import SignedPath
from interplay.interactions.signs import DIRECTION, Sign, total
from interplay.kb import KB
from interplay.results import Direction

if TYPE_CHECKING:
    from interplay.interactions.validated import ValidationRecord


@dataclass
class Prediction:
    """The predicted ``direction`` of ``defense`` -> ``risk`` by ``method``, how it was resolved, its confidence,
    the paths behind it, the literature's report (``known``) and, when read back, this cell's experiment."""

    defense: str
    risk: str
    method: str
    direction: Direction
    resolution: str
    confidence: float
    supporting: list[SignedPath] = field(default_factory=list)
    opposing: list[SignedPath] = field(default_factory=list)
    neutral: list[SignedPath] = field(default_factory=list)
    qpn_sign: Sign = "0"
    context: dict[str, str] = field(default_factory=dict)
    known: dict | None = None
    notes: list[str] = field(default_factory=list)
    validation: ValidationRecord | None = None
    probability: float | None = None
    abstain: bool = False
    depends_on: dict[str, dict[str, str]] = field(default_factory=dict)
    why: list[str] = field(default_factory=list)

    @property
    def advice(self) -> str | None:
        """What to do about an abstention: the experiment that would decide the cell."""
        return f"uncertain: run validate {self.defense} {self.risk}" if self.abstain else None

    @property
    def paths(self) -> list[SignedPath]:
        return [*self.supporting, *self.opposing, *self.neutral]

    def __repr__(self) -> str:
        return f"Prediction({self.defense} -> {self.risk}: {self.direction}, {self.method})"

    def __str__(self) -> str:
        lines = [
            f"{self.defense} -> {self.risk}: {self.direction} ({self.method}; {self.resolution}, confidence "
            f"{self.confidence:.2f}{self._probability_text()})",
            f"  paths: {len(self.supporting)} supporting, {len(self.opposing)} opposing, {len(self.neutral)} other",
        ]
        if self.known:
            lines.append(f"  literature: {self.known['direction']} ({', '.join(self.known['refs'])})")
        if self.validation:
            lines.append(f"  validated here: observed {self.validation.observed}, {self.validation.verdict}")
        if self.advice:
            lines.append(f"  {self.advice}")
        return "\n".join(lines + [f"  {n}" for n in self.notes])

    def _probability_text(self) -> str:
        if self.probability is None:
            return ""
        return f", probability right {self.probability:.2f}" + (", abstains" if self.abstain else "")

    def _repr_html_(self) -> str:
        rows = [
            ("prediction", self.direction),
            ("method", self.method),
            ("resolution", self.resolution),
            ("confidence", f"{self.confidence:.2f}"),
            ("probability right", "-" if self.probability is None else f"{self.probability:.2f}"),
            ("abstains", self.abstain),
            ("supporting paths", len(self.supporting)),
            ("opposing paths", len(self.opposing)),
            ("literature", self.known["direction"] if self.known else "unexplored"),
        ]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        return f"<table><caption>{html.escape(self.defense)} -&gt; {html.escape(self.risk)}</caption>{body}</table>"

    def to_dict(self) -> dict:
        roles = [("supporting", self.supporting), ("opposing", self.opposing), ("neutral", self.neutral)]
        doc = {
            "defense": self.defense,
            "risk": self.risk,
            "method": self.method,
            "prediction": self.direction,
            "resolution": self.resolution,
            "confidence": round(self.confidence, 3),
            "probability": None if self.probability is None else round(self.probability, 3),
            "abstain": self.abstain,
            "advice": self.advice,
            "qpn_sign": self.qpn_sign,
            "context": self.context,
            "depends_on": self.depends_on,
            "known": self.known,
            "notes": self.notes,
            "why": self.why,
            "paths": [p.to_dict(role) for role, ps in roles for p in ps],
        }
        return doc | ({"validation": self.validation.to_dict()} if self.validation else {})


def known_direction(kb: KB, defense: str, risk: str, ctx: dict[str, str]) -> dict | None:
    """The reported direction of a cell under ``ctx`` (an exception whose context holds overrides)."""
    obs = kb.observation(defense, risk)
    if obs is None:
        return None
    doc: dict[str, Any] = {
        "direction": obs.direction,
        "refs": obs.refs,
        "intended": obs.intended,
        "observation": obs.id,
    }
    if obs.conjecture:
        doc["conjecture"] = obs.conjecture.direction
    for x in obs.exceptions:
        if x.context and all(ctx.get(k) == v for k, v in x.context.items()):
            doc.update(direction=x.direction, refs=x.refs, exception=x.context)
    return doc


def cell_references(kb: KB, defense: str, risk: str) -> set[str]:
    """The references of the cell's observation and of its exceptions (empty for an unobserved cell)."""
    obs = kb.observation(defense, risk)
    if obs is None:
        return set()
    return set(obs.refs) | {r for x in obs.exceptions for r in x.refs}


def noisy_or(paths: Iterable[SignedPath]) -> float:
    miss = 1.0
    for p in paths:
        miss *= 1.0 - p.weight
    return 1.0 - miss


def split_paths(paths: list[SignedPath], sign: Sign) -> tuple[list[SignedPath], list[SignedPath], list[SignedPath]]:
    sup = [p for p in paths if p.sign == sign]
    opp = [p for p in paths if p.sign in ("+", "-") and p.sign != sign]
    neu = [p for p in paths if p.sign in ("0", "?")]
    return sup, opp, neu


def make_prediction(defense, risk, method, sign, how, conf, paths, ctx, answer: str | None = None) -> Prediction:
    """``answer``: the direction when it is not the sign's (the graph method's ``none`` and ``mixed``)."""
    direction = Direction(answer or ("unknown" if how == "no-path" else DIRECTION[sign]))
    sup, opp, neu = split_paths(paths, sign) if sign in ("+", "-") else ([], [], paths)
    if sign == "?" and how != "no-path":
        sup = [p for p in paths if p.sign == "+"]
        opp = [p for p in paths if p.sign == "-"]
        neu = [p for p in paths if p.sign in ("0", "?")]
    qpn = total(p.sign for p in paths)
    return Prediction(defense, risk, method, direction, how, conf, sup, opp, neu, qpn, ctx)
