import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interplay.kb import BUILTIN_DIR, load_kb

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's results store (the default store lives in the cache dir)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def kb():
    return load_kb()


@pytest.fixture
def kb_copy(tmp_path) -> Path:
    """A writable copy of the built-in KB directory."""
    dst = tmp_path / "kb"
    shutil.copytree(BUILTIN_DIR, dst)
    return dst


@pytest.fixture
def cli():
    from interplay.cli.app import app

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(scope="session")
def tiny_task():
    """Seed 0's synthetic task at the ``tiny`` preset."""
    from interplay.validators.settings import default_settings, load_task

    return load_task(default_settings("synthetic", "tiny"), 0)


@pytest.fixture(scope="session")
def tiny_deployments(tiny_task):
    """The baseline and the model-preserving defenses (explanations, fingerprinting) deployed on ``tiny_task``."""
    from interplay.validators.defenses.base import DefensePlugin
    from interplay.validators.defenses.explanations import Explanations
    from interplay.validators.defenses.fingerprinting import Fingerprinting
    from interplay.validators.settings import default_settings

    tiny = default_settings("synthetic", "tiny")
    plugins = {"baseline": DefensePlugin, "explanations": Explanations, "fingerprinting": Fingerprinting}
    return {name: plugin(tiny, tiny_task).deploy(tiny_task.train, 0) for name, plugin in plugins.items()}


@pytest.fixture
def pilot_spy(monkeypatch):
    """Record the class of every deployed defense and every seed a validation loads a task for."""
    from interplay.validators import experiment
    from interplay.validators.calibration import _PILOTS
    from interplay.validators.defenses.base import DefensePlugin

    _PILOTS.clear()
    deployed, seeds = [], []
    real_deploy, real_load = DefensePlugin.deploy, experiment.load_task
    monkeypatch.setattr(DefensePlugin, "deploy", lambda d, t, s: deployed.append(type(d)) or real_deploy(d, t, s))
    monkeypatch.setattr(experiment, "load_task", lambda st, s, p=None: seeds.append(s) or real_load(st, s, p))
    return deployed, seeds
