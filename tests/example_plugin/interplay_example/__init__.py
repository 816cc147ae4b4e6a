"""An example interplay plugin: what the entry point names. Torch-free: the KB overlay's directory, the
module that registers the defense (imported only when experiments run) and a model factory (torch is imported
when the model is built)."""

import math
from pathlib import Path

KB_OVERLAY = Path(__file__).parent / "kb"
VALIDATORS = ["interplay_example.defense"]


def example_mlp(input_shape, n_classes):
    """A one-hidden-layer tanh MLP: ``--model example-mlp``."""
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 32), nn.Tanh(), nn.Linear(32, n_classes))


MODELS = {"example-mlp": example_mlp}
