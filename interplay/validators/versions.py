"""The version of the validators' code that a stored result was measured with."""

from __future__ import annotations

import hashlib
from pathlib import Path

from interplay.version import VERSION


def code_version() -> str:
    """The package version plus a digest of the validators' sources: changing the code invalidates results.
    Plugins outside this package enter each configuration through ``experiment.plugin_versions``."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return f"{VERSION}+{digest.hexdigest()[:12]}"
