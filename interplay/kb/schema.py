"""Pydantic schema of the knowledge base: entities, signed mechanism edges, observations, references."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

Sign = Literal["increases", "decreases", "none", "mixed"]
EvidenceKind = Literal["empirical", "theoretical", "conjectured"]
ObservedDirection = Literal["increase", "decrease", "unexplored"]
RiskCategory = Literal["security", "privacy", "fairness"]
# "general": a training or compression technique that is not designed against any of the eight risks.
DefenseCategory = Literal["security", "privacy", "fairness", "general"]
# "sok": one of the SoK's seven defenses; "beyond-sok": a technique this KB adds, predicted from its mechanisms.
DefenseScope = Literal["sok", "beyond-sok"]
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
    category: DefenseCategory
    targets: list[str] = Field(
        description="ids of the risks the defense is designed to lower (none for a technique not designed against any)"
    )
    scope: DefenseScope = "sok"
    refs: list[str] = Field([], description="the technique's own sources (its paper, its definition)")


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


# Literature settings: the closed vocabularies a cell's declared facts draw from. The validators import these to
# compile a setting into a run; a value outside them could not be compiled, so the schema rejects it.
SETTING_VOCABULARY: dict[str, tuple[str, ...]] = {
    "subgroup": ("unprivileged", "privileged"),
    "attack": ("backdoor", "availability"),
    "fairness": ("demographic-parity", "equalized-odds"),
    "data": ("image", "census", "tabular"),
    "regime": ("privacy", "disparity"),
    "removal": ("isolation-forest", "membership"),
}
THREAT_VOCABULARY: dict[str, tuple[str, ...]] = {
    "adversary": ("malicious-suspect", "malicious-accuser"),
    "theft": ("extraction", "fine-tuning"),
    "outputs": ("logits", "label"),
}
NUMERIC_KNOB = "numeric knobs come from regimes or headroom rules, not from a cell"


def _is_number(v: object) -> bool:
    if isinstance(v, int | float):
        return True
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return False
        return True
    return False


class SettingFact(_Strict):
    """One fact a cited paper states about how it measured a cell: a word from a closed vocabulary (or, for
    ``metric``, a raw metric name of the risk's probe), the reference that states it and where it says so."""

    value: str
    ref: str = Field(min_length=1, description="a reference key among the observation's refs or its exceptions' refs")
    locator: str = Field(min_length=1, description='where the paper states it, e.g. "abstract", "Sec. 4", "Table 2"')

    @field_validator("value", mode="before")
    @classmethod
    def _a_word_not_a_number(cls, v: object) -> object:
        if isinstance(v, bool):
            raise ValueError(f"a setting value is a word from its vocabulary, not {v!r}")
        if _is_number(v):
            raise ValueError(f"{v!r} is a number: a setting declares facts, not parameters; {NUMERIC_KNOB}")
        if isinstance(v, str) and not v.strip():
            raise ValueError("a setting value must be a non-empty string")
        return v

    @field_validator("ref", "locator")
    @classmethod
    def _not_blank(cls, v: str, info: ValidationInfo) -> str:
        if not v.strip():
            raise ValueError(f"{info.field_name} must be a non-empty string")
        return v


class LiteratureSetting(_Strict):
    """What the cell's cited papers state about how they measured it, fact by fact, each with its reference and a
    locator. Only facts: numeric knobs (epochs, rates, lambdas, eps, sizes) are never declared here."""

    metric: SettingFact | None = Field(
        None, description="the probe's raw metric the paper's measure corresponds to (checked against the probe)"
    )
    subgroup: SettingFact | None = None
    attack: SettingFact | None = None
    threat: dict[str, SettingFact] = {}
    fairness: SettingFact | None = None
    data: SettingFact | None = None
    regime: SettingFact | None = None
    removal: SettingFact | None = Field(
        None, description="which records an outlier-removal defense drops (the most anomalous, the most exposed)"
    )

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                names, allowed = ", ".join(map(repr, unknown)), ", ".join(cls.model_fields)
                reason = f"unknown setting field(s) {names} (allowed: {allowed})"
                raise ValueError(f"{reason}; a setting declares facts only, {NUMERIC_KNOB}")
        return data

    @field_validator("metric")
    @classmethod
    def _metric_is_a_name(cls, fact: SettingFact | None) -> SettingFact | None:
        if fact is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.\-]*", fact.value):
            raise ValueError(f"{fact.value!r} is not a metric name: name a raw metric of the probe (e.g. accuracy_gap)")
        return fact

    @field_validator(*SETTING_VOCABULARY)
    @classmethod
    def _in_vocabulary(cls, fact: SettingFact | None, info: ValidationInfo) -> SettingFact | None:
        allowed = SETTING_VOCABULARY[str(info.field_name)]
        if fact is not None and fact.value not in allowed:
            raise ValueError(f"unknown {info.field_name} {fact.value!r} (allowed: {', '.join(allowed)})")
        return fact

    @field_validator("threat")
    @classmethod
    def _threat_in_vocabulary(cls, threat: dict[str, SettingFact]) -> dict[str, SettingFact]:
        for key, fact in threat.items():
            if key not in THREAT_VOCABULARY:
                raise ValueError(f"unknown threat key {key!r} (allowed: {', '.join(THREAT_VOCABULARY)})")
            if fact.value not in THREAT_VOCABULARY[key]:
                allowed = ", ".join(THREAT_VOCABULARY[key])
                raise ValueError(f"unknown threat.{key} {fact.value!r} (allowed: {allowed})")
        return threat

    @model_validator(mode="after")
    def _declares_something(self) -> LiteratureSetting:
        if not any(True for _ in self.facts()):
            raise ValueError("a setting must declare at least one fact (or be left out)")
        return self

    def facts(self) -> Iterator[tuple[str, SettingFact]]:
        """Every declared fact with its dotted field name (``metric``, ``threat.theft``, ...), in field order."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SettingFact):
                yield name, value
            elif isinstance(value, dict):
                yield from ((f"{name}.{k}", f) for k, f in value.items())


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
    setting: LiteratureSetting | None = Field(
        None, description="facts the cited papers state about how they measured the cell; the reasoner never reads it"
    )
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
