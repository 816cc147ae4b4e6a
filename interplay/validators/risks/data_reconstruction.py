"""Data reconstruction by model inversion: the SoK's decoder attack (Sec. 5.1). A decoder MLP maps what the
deployment releases about a record (its logits; its attributions too when explanations are exposed) back
to the record's input attributes. The adversary trains it with the MSE on its own population data and
the attack is scored on the target's training records, which the decoder never saw.

The score is ``1 - MSE / Var``, the mean squared error over the attributes divided by their mean variance
in the adversary's data (not attribute by attribute: near-constant pixels would dominate): 0 is no better
than guessing the mean, 1 a perfect reconstruction (higher = more at risk); the raw MSE is reported too,
on members and on held-out records. The decoder is wider than the
SoK's (1-18-36-64-128-d for a single score): with attributions as inputs, an 18-unit first layer would be
the bottleneck. Not scikit-learn's MLPRegressor: a full-batch torch loop is faster here and seeded alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from interplay.validators.defenses.explanations import released
from interplay.validators.models import mlp
from interplay.validators.registry import register_risk
from interplay.validators.risks.base import Measurement, RiskProbe
from interplay.validators.training import seed_everything

DECODER_HIDDEN = (64, 128)
DECODER_STEPS = 300


@register_risk("data-reconstruction")
class DataReconstruction(RiskProbe):
    """The SoK's decoder attack: reconstruct training records from what the deployment releases."""

    metric = "reconstruction_score"
    requires = ("logits",)
    reads = ("explanations",)

    def measure(self, deployment, train, seed):
        explainer = deployment.observables.get("explanations")
        splits = {"aux": self.task.aux, "members": train, "held_out": self.task.test}
        features = {name: released(deployment.model, explainer, split.x) for name, split in splits.items()}
        target = {name: split.x.flatten(1) for name, split in splits.items()}
        # A feature constant on the adversary's data (e.g. the attribution of a category absent there) is
        # centred, not scaled: dividing by ~0 would blow up the records where it is not constant.
        mu, sd = features["aux"].mean(0), features["aux"].std(0)
        sd = torch.where(sd > 1e-8, sd, torch.ones_like(sd))
        var = target["aux"].var(0).mean().item()
        seed_everything(seed)
        decoder = mlp(features["aux"].shape[1], target["aux"].shape[1], DECODER_HIDDEN)
        optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-2, weight_decay=1e-4)
        for _ in range(DECODER_STEPS):
            optimizer.zero_grad()
            F.mse_loss(decoder((features["aux"] - mu) / sd), target["aux"]).backward()
            optimizer.step()
        # The adversary knows each attribute's range in its data and keeps the reconstruction inside it, so a
        # record whose released features lie outside what the decoder saw (e.g. a rare one-hot category's
        # attribution) does not extrapolate without bound.
        lo, hi = target["aux"].min(0).values, target["aux"].max(0).values
        raw = {}
        with torch.no_grad():
            for name in ("members", "held_out"):
                err = (decoder((features[name] - mu) / sd).clamp(lo, hi) - target[name]) ** 2
                raw[f"mse_{name}"] = err.mean().item()
                raw[f"score_{name}"] = 1 - raw[f"mse_{name}"] / var
        # Reconstruction of members beyond that of held-out records: training-data leakage, as opposed to an
        # inversion of the population that needs no member (reported; the primary score stays the members' one).
        raw["member_advantage"] = raw["score_members"] - raw["score_held_out"]
        return Measurement(raw["score_members"], {"reconstruction_score": raw["score_members"], **raw})
