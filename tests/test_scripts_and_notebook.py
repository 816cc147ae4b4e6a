"""The API from an unguarded script, from standard input and from a Jupyter kernel, with the same records.

The README's Python snippet is read from README.md (never copied here) and run as written. The script run is in
the default suite; the notebook runs against the store that run filled (its seeds replay, the kernel, display,
DataFrames and figure are what it tests); the stdin run and the notebook on a fresh store (its seeds measured in
worker processes spawned from the kernel) are slow.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"
VERDICT_LINE = re.compile(r"^(confirmed|refuted|inconclusive|not-applicable) \S+ \S+$", re.M)


def readme_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "the README has one Python example"
    return blocks[0]


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO)}


def _run(args: list[str], cache: Path, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=_env(cache), timeout=600)  # fmt: skip


def _stored(cache: Path) -> tuple[str, float, float]:
    """The DP -> MIA record the default store under ``cache`` holds: verdict, difference, p-value."""
    out = subprocess.run(
        [sys.executable, "-c", "import interplay; c = interplay.results().cells[0]; "
         "print(c.verdict, repr(c.effect.difference), repr(c.effect.p_value))"],
        capture_output=True, text=True, env=_env(cache), check=True,
    ).stdout.split()  # fmt: skip
    return out[0], float(out[1]), float(out[2])


@pytest.fixture(scope="module")
def script_run(tmp_path_factory):
    """The README snippet saved as a script and run on a fresh store."""
    where = tmp_path_factory.mktemp("script")
    (where / "example.py").write_text(readme_snippet(), encoding="utf-8")
    return _run(["example.py"], where / "cache", where), where / "cache"


def _printed(out: str) -> tuple[str, float, float]:
    line = VERDICT_LINE.search(out)
    assert line, out
    verdict, diff, p = line.group(0).split()
    return verdict, float(diff), float(p)


def test_readme_snippet_runs_as_a_script(script_run):
    proc, cache = script_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "BrokenProcessPool" not in proc.stderr
    assert "differential-privacy -> evasion: increase" in proc.stdout  # print(p)
    # the unguarded top level: the seeds are measured here, and the user is told why
    assert 'example.py calls interplay outside an `if __name__ == "__main__":` block' in proc.stderr
    verdict, diff, p = _printed(proc.stdout)
    assert (verdict, diff, p) == _stored(cache)  # printed with repr: the same floats


@pytest.mark.slow
def test_readme_snippet_runs_on_stdin_with_the_scripts_records(script_run, tmp_path):
    proc = _run(["-"], tmp_path / "cache", tmp_path, stdin=readme_snippet())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "the main module (<stdin>) is no file a worker could re-import" in proc.stderr
    assert _printed(proc.stdout) == _printed(script_run[0].stdout)


GUARDED = """
import interplay.validators.executors as ex
def where():
    return ex.main_not_reimportable()
print("top:", where())
if __name__ == "__main__":
    print("guarded:", where())
"""


def test_workers_re_import_the_main_module_only_where_that_is_harmless(tmp_path):
    """Spawned workers re-run ``__main__``: allowed under a ``__name__`` guard and where there is no file to re-run
    (``-c``, a notebook); refused at a script's unguarded top level and for code read from stdin."""
    (tmp_path / "s.py").write_text(GUARDED, encoding="utf-8")
    script = _run(["s.py"], tmp_path, tmp_path).stdout
    assert "top: s.py calls interplay outside" in script and "guarded: None" in script
    stdin = _run(["-"], tmp_path, tmp_path, stdin=GUARDED).stdout
    assert stdin.count("is no file a worker could re-import") == 2
    inline = _run(["-c", GUARDED], tmp_path, tmp_path).stdout
    assert "top: None" in inline and "guarded: None" in inline


def test_python_m_interplay_cli_runs_the_command_only_as_main():
    """A seed worker spawned by `python -m interplay.cli validate ...` imports the module again."""
    from interplay.validators.executors import _under_main_guard

    path = REPO / "interplay" / "cli" / "__main__.py"
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.strip() == "main()")
    assert _under_main_guard(path, line)


def test_terminal_progress_draws_until_its_seeds_are_done():
    import io

    from rich.console import Console

    from interplay import progress

    out = io.StringIO()
    bar = progress.TerminalProgress(Console(file=out, force_terminal=True, width=80))
    bar.start(2, "DP -> MIA on synthetic")
    bar.advance()
    assert bar.bar is not None and bar.bar.live.is_started
    bar.advance()
    assert bar.bar is None  # stopped and cleared once every seed is done
    assert "DP -> MIA on synthetic" in out.getvalue()
    assert progress.default() is None  # here stderr is captured: no terminal, no notebook


def _execute(cache: Path, monkeypatch, tmp_path: Path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _check_outputs(outputs: list) -> str:
    """The notebook's outputs hold the progress bar, a DataFrame per table, the figure; returns what it printed."""
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    assert any(re.search(r"-> membership-inference on synthetic: 3/3", d.get("text/plain", "")) for d in data)
    assert any("<progress" in d.get("text/html", "") for d in data)
    assert sum("dataframe" in d.get("text/html", "") for d in data) == 2
    assert any(d.get("image/png") for d in data)  # the forest plot
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


def test_notebook_executes_headless(script_run, monkeypatch, tmp_path):
    proc, cache = script_run
    assert proc.returncode == 0
    printed = _check_outputs(_execute(cache, monkeypatch, tmp_path))
    assert "prediction decrease, observed" in printed


@pytest.mark.slow
def test_notebook_on_a_fresh_store_measures_the_scripts_records(script_run, monkeypatch, tmp_path):
    _check_outputs(_execute(tmp_path / "cache", monkeypatch, tmp_path))
    assert _stored(tmp_path / "cache") == _stored(script_run[1])


def test_the_notebook_in_git_holds_no_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
