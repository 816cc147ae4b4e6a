"""Pydantic schema of the knowledge base: entities, signed mechanism edges, observations, references."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Sign = Literal["increases", "decreases", "none", "mixed"]
EvidenceKind = Literal["empirical", "theoretical", "conjectured"]
ObservedDirection = Literal["increase", "decrease", "unexplored"]
RiskCategory = Literal["security", "privacy", "fairness"]
FactorGroup = Literal["data", "objective", "model"]
EdgeRole = Literal["defense-factor", "risk-factor", "factor-mediator", "mediator-risk", "mechanism"]
Interpretation = Literal["effect", "moderator"]
Effectiveness = Literal["effective", "conflict", "unknown"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entity(_Strict):
    """Anything with a stable slug id, a readable name and aliases (SoK codes are aliases too)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    name: str
    code: str | None = None
    aliases: list[str] = []
    description: str = ""

    @property
    def names(self) -> list[str]:
        """Every name this entity answers to: id, code, name and aliases."""
        return [n for n in (self.id, self.code, self.name, *self.aliases) if n]


class Defense(Entity):
    category: RiskCategory
    targets: list[str] = Field(min_length=1, description="ids of the risks the defense is designed to lower")


class Risk(Entity):
    category: RiskCategory
    exploits: list[str] = Field(
        [], description="factors whose observable the attack measures by definition (e.g. O2.1 for membership)"
    )


class Factor(Entity):
    group: FactorGroup
    drives: list[str] = Field(description="mediators (overfitting, memorization) the SoK says it influences")
    active: bool = Field(description="active factors (O1, O2, O3) are exploited by attacks and dominate")


class Node(Entity):
    """A mediator (overfitting, memorization) or an explicit mechanism node."""

    kind: Literal["mediator", "mechanism"]
    active: bool = False


class Evidence(_Strict):
    ref: str
    locator: str | None = None
    kind: EvidenceKind
    conditions: dict[str, str] = {}
    note: str | None = None


class Edge(_Strict):
    """A signed mechanism edge ``source -> target``.

    ``interpretation`` says how a traversal reads it: ``effect`` edges are what intervening on the source
    does to the target; ``moderator`` edges are Table 2 correlations that describe when a defense works,
    not what it changes, and only the SoK's guideline reads them.
    """

    id: str
    source: str
    target: str
    sign: Sign
    role: EdgeRole
    interpretation: Interpretation = "effect"
    sok_arrow: Literal["up", "down"] | None = Field(None, description="the Table 2 arrow, if the edge is one")
    sok_meaning: str | None = None
    conditions: dict[str, str] = Field({}, description="context under which the edge holds")
    evidence: list[Evidence] = Field(min_length=1)
    note: str | None = None

    @field_validator("sign", mode="before")
    @classmethod
    def _no_bare_symbols(cls, v: object) -> object:
        if v in ("-", "+", "?", "0"):
            raise ValueError(f"write the sign as a word (increases/decreases/none/mixed), not {v!r}")
        return v


class Exception_(_Strict):
    direction: Literal["increase", "decrease"]
    refs: list[str] = Field(min_length=1)
    context: dict[str, str] = {}
    note: str | None = None


class Conjecture(_Strict):
    direction: Literal["increase", "decrease"]
    validated_in: str
    factors: list[str] = []
    note: str | None = None


class Observation(_Strict):
    """A reported defense -> risk interaction (a cell of the SoK's Table 3): ground truth, never traversed."""

    id: str
    defense: str
    risk: str
    direction: ObservedDirection
    intended: bool = False
    factors: dict[str, list[EvidenceKind]] = {}
    refs: list[str] = []
    exceptions: list[Exception_] = []
    conjecture: Conjecture | None = None
    source: str = "duddu2024sok"
    locator: str = "Table 3"
    note: str | None = None


class CombinationObservation(_Strict):
    """Two defenses deployed together, as reported: does each stay effective? Ground truth, never traversed.

    ``outcome`` maps each defense to ``effective``, ``conflict`` (a significant loss of effectiveness) or
    ``unknown`` (the source does not say).
    """

    id: str
    defenses: list[str] = Field(min_length=2, max_length=2)
    outcome: dict[str, Effectiveness]
    evidence: list[Evidence] = Field(min_length=1)
    context: dict[str, str] = {}
    note: str | None = None

    @model_validator(mode="after")
    def _outcome_per_defense(self) -> CombinationObservation:
        if self.defenses[0] == self.defenses[1]:
            raise ValueError("a combination needs two different defenses")
        if set(self.outcome) != set(self.defenses):
            raise ValueError("outcome must give exactly one entry per defense of the combination")
        return self


class Reference(_Strict):
    key: str = Field(pattern=r"^[A-Za-z0-9_:\-]+$")
    sok_number: int | None = None
    status: Literal["confirmed", "inferred", "unresolved", "external"]
    entry_type: str = "misc"
    title: str | None = None
    authors: list[str] = []
    year: int | None = None
    venue: str | None = None
    arxiv: str | None = None
    url: str | None = None
    note: str | None = None


class ContextKey(_Strict):
    """A context qualifier (e.g. the adversary model) that selects conditional edges."""

    id: str
    description: str
    values: list[str] = Field(min_length=2)
    default: str
