"""Backdoor triggers: a fixed pattern stamped onto inputs, relabelled to a target class.

One mechanism, two owners: the poisoning probe's attacker hides a backdoor with it (BadNets, Gu et
al. 2017), the watermarking defense's owner embeds a trigger-set watermark with its own, different
pattern (the content variant of Zhang et al. 2018 of the trigger sets of Adi et al. 2018). On images
the pattern is a bright 2x2 patch in a corner (blank in every digit); on tabular data it sets a few
standardized attributes to +4 standard deviations, a value that is rare but inside the data's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from interplay.validators.data import Split, Task

PATCH = 2  # side of the image patch, in pixels
N_TABULAR = 3  # attributes set by a tabular trigger
TABULAR_VALUE = 4.0


@dataclass(frozen=True)
class Trigger:
    """Stamp ``value`` onto the flat input positions ``positions``; triggered inputs should predict ``target``."""

    positions: tuple[int, ...]
    value: float
    target: int

    def stamp(self, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out.view(len(out), -1)[:, list(self.positions)] = self.value
        return out

    def triggered(self, split: Split) -> Split:
        """The records not already of the target class, stamped and labelled with the target."""
        keep = split.y != self.target
        return Split(self.stamp(split.x[keep]), torch.full((int(keep.sum()),), self.target), split.s[keep])


def make_trigger(task: Task, corner: int, salt: int, target: int = 0) -> Trigger:
    """A trigger for ``task``: on images the patch in ``corner`` (0 top-left .. 3 bottom-right); on tabular
    data ``N_TABULAR`` attributes drawn with ``salt`` (fixed per owner, independent of the data seed)."""
    if task.bounds is not None and len(task.input_shape) == 3:
        _, h, w = task.input_shape
        rows = range(h - PATCH, h) if corner >= 2 else range(PATCH)
        cols = range(w - PATCH, w) if corner % 2 else range(PATCH)
        return Trigger(tuple(r * w + c for r in rows for c in cols), task.bounds[1], target)
    n = int(np.prod(task.input_shape))
    positions = np.random.default_rng(salt).choice(n, N_TABULAR, replace=False)
    return Trigger(tuple(int(p) for p in sorted(positions)), TABULAR_VALUE, target)
