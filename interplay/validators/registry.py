"""The plugin registries, keyed by the KB's canonical slugs."""

from __future__ import annotations

from interplay.validators.defenses.adversarial_training import AdversarialTraining
from interplay.validators.defenses.base import Defense
from interplay.validators.defenses.differential_privacy import DifferentialPrivacy
from interplay.validators.defenses.explanations import Explanations
from interplay.validators.defenses.fingerprinting import Fingerprinting
from interplay.validators.defenses.group_fairness import GroupFairness
from interplay.validators.defenses.outlier_removal import OutlierRemoval
from interplay.validators.defenses.watermarking import Watermarking
from interplay.validators.risks.attribute_inference import AttributeInference
from interplay.validators.risks.base import RiskProbe
from interplay.validators.risks.data_reconstruction import DataReconstruction
from interplay.validators.risks.discrimination import Discrimination
from interplay.validators.risks.distribution_inference import DistributionInference
from interplay.validators.risks.evasion import Evasion
from interplay.validators.risks.membership_inference import MembershipInference
from interplay.validators.risks.model_ownership import ModelOwnership
from interplay.validators.risks.poisoning import Poisoning

DEFENSES: dict[str, type[Defense]] = {d.slug: d for d in (AdversarialTraining, DifferentialPrivacy, GroupFairness,
                                                                       Explanations)}
RISKS: dict[str, type[RiskProbe]] = {
    r.slug: r for r in (Evasion, MembershipInference, DataReconstruction, AttributeInference, DistributionInference,
                    Discrimination)
}

# Part 2 (validators README): the data-sanitizing and ownership defenses, poisoning and unauthorized model ownership.
DEFENSES |= {d.slug: d for d in (OutlierRemoval, Watermarking, Fingerprinting)}
RISKS |= {r.slug: r for r in (Poisoning, ModelOwnership)}


class UnregisteredPair(LookupError):
    """A defense or risk that the KB knows but no validator plugin implements yet."""


def check_pair(defense: str, risk: str) -> None:
    """Raise :class:`UnregisteredPair` unless both slugs have a plugin."""
    missing = [f"{kind} {slug!r}" for kind, slug, table in (("defense", defense, DEFENSES), ("risk", risk, RISKS))
               if slug not in table]
    if missing:
        raise UnregisteredPair(
            f"no validator plugin for {' and '.join(missing)}; registered defenses: {', '.join(DEFENSES)}; "
            f"registered risks: {', '.join(RISKS)}")
