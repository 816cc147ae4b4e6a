"""An example interplay plugin: what the entry point names. Torch-free: the KB overlay's directory and the
module that registers the defense, imported only when experiments run."""

from pathlib import Path

KB_OVERLAY = Path(__file__).parent / "kb"
VALIDATORS = ["interplay_example.defense"]
