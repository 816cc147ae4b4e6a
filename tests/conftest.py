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
