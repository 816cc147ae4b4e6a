"""Exports and the HTML report carry the same verdicts as `interplay status --json`; the page is self-contained,
escapes KB strings and renders in headless Chromium (skipped, with the reason, when Chromium is not installed)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_export import EVIL_YAML
from validation_store import CELLS, make_store

from interplay.export import build_export_model, render_text
from interplay.export.escape import latex as esc
from interplay.export.latex import VALIDATION_MARK, ordered_risks
from interplay.export.report import render
from interplay.interactions.status import NOT_VALIDATED, cell_status
from interplay.interactions.validated import load_validations
from interplay.kb import load_kb

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def store(kb, tmp_path_factory):
    return make_store(kb, tmp_path_factory.mktemp("store") / "results.sqlite")


@pytest.fixture(scope="module")
def status_verdicts(store):
    from typer.testing import CliRunner

    from interplay.cli.app import app

    res = CliRunner().invoke(app, ["status", "--json", "--store", str(store)])
    assert res.exit_code == 0, res.output
    return {(r["defense"], r["risk"]): r["verdict"] for r in json.loads(res.stdout)}


@pytest.fixture(scope="module")
def report_html(store, tmp_path_factory):
    from typer.testing import CliRunner

    from interplay.cli.app import app

    out = tmp_path_factory.mktemp("report") / "report.html"
    res = CliRunner().invoke(app, ["report", "-o", str(out), "--store", str(store)])
    assert res.exit_code == 0, res.output
    return out


def _export(cli, tmp_path, fmt, store, name):
    out = tmp_path / name
    res = cli("export", fmt, "-o", out, "--include", "observations,predictions,validations", "--store", store)
    assert res.exit_code == 0, res.output
    return out


def test_latex_marks_the_status_verdicts(cli, kb, tmp_path, store, status_verdicts):
    tex = _export(cli, tmp_path, "latex", store, "m.tex").read_text()
    table = tex.split(r"\begin{table}")[1].split(r"\end{table}")[0]
    model = build_export_model(kb)
    risks = [r for _, rs in ordered_risks(model) for r in rs]
    seen = {}
    for d in kb.sok_defenses:  # the export's default rows: the SoK's seven
        row = next(ln for ln in table.splitlines() if ln.startswith(esc(model.node(d).label) + " & "))
        for r, cell in zip(risks, row.removesuffix(r" \\").split(" & ")[1:], strict=True):
            marks = [v for v, m in VALIDATION_MARK.items() if m in cell]
            seen[d, r] = marks[0] if marks else NOT_VALIDATED
    assert seen == status_verdicts


def test_json_and_csv_carry_the_status_verdicts(cli, tmp_path, store, status_verdicts):
    doc = json.loads(_export(cli, tmp_path, "json", store, "x.json").read_text())
    got = {(c["defense"], c["risk"]): c["validation"] or NOT_VALIDATED for c in doc["cells"]}
    assert got == status_verdicts
    exp = {(c["defense"], c["risk"]): c["experiment"] for c in doc["cells"] if c["experiment"]}
    assert set(exp) == set(CELLS) and all(e["kind"] == "validated here" for e in exp.values())
    _export(cli, tmp_path, "csv", store, "tables")
    with open(tmp_path / "tables" / "predictions.csv", newline="") as f:
        rows = {(r["defense"], r["risk"]): r["validation"] or NOT_VALIDATED for r in csv.DictReader(f)}
    assert rows == status_verdicts


def test_html_report_shows_the_status_verdicts(report_html, status_verdicts):
    html = report_html.read_text()
    cells = re.findall(r'data-defense="([^"]+)" data-risk="([^"]+)" data-prediction="[^"]*" '
                       r'data-literature="[^"]*" data-verdict="([^"]+)"', html)  # fmt: skip
    assert len(cells) == 56
    assert {(d, r): v for d, r, v in cells} == status_verdicts
    assert html.count("<svg") >= len(CELLS) * 2, "a per-seed plot and an effect plot per validated cell"


def test_html_report_is_self_contained(report_html):
    html = report_html.read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r'\bsrc="(?!data:)', html), "no external images"


def test_html_escapes_kb_and_store_strings(tmp_path, store):
    overlay = tmp_path / "evil"
    overlay.mkdir()
    (overlay / "evil.yaml").write_text(EVIL_YAML, encoding="utf-8")
    evil = load_kb(None, [overlay])
    layer = load_validations(store)
    model = build_export_model(evil, include="observations,predictions,validations", validations=layer)
    html = render(model, cell_status(evil, layer), "<script>src</script>")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "the overlay's strings are shown, escaped"
    assert "auc &lt;script&gt;" in html, "store strings (the metric) are escaped too"


def test_report_without_results_says_so(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    res = cli("report", "-o", tmp_path / "r.html")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    assert html.count('data-verdict="not validated"') == 56 and "no validation results are available" in html


def test_latex_export_still_compiles_in_text_form(kb, store):
    tex = render_text(build_export_model(kb, include="observations,predictions,validations",
                                  validations=load_validations(store)), "latex")  # fmt: skip
    assert tex.count(r"\begin{table}") == 1 and r"\ipRefuted" in tex and r"\ipConfirmed" in tex


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium)")
def test_chromium_renders_the_matrix(report_html, tmp_path):
    cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
           report_html.resolve().as_uri()]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    matrix = re.search(r'<table class="heatmap" id="matrix">.*?</table>', dom, re.S)
    assert matrix, dom[:500]
    assert len(re.findall(r"<td [^>]*data-verdict=", matrix.group(0))) == 56
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}",
                    "--window-size=1200,900", report_html.resolve().as_uri()],
                   capture_output=True, timeout=120)  # fmt: skip
    assert shot.is_file() and shot.stat().st_size > 10_000, "a rendered, non-blank page"
