"""Exports: every format writes; BibTeX covers the LaTeX's cites; GraphML/GEXF/JSON round-trip; KB strings are
escaped everywhere; pdflatex and dot really compile/render the outputs (skipped, with the reason, without them)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

from interplay.cli.app import app
from interplay.export import FORMATS, ExportError, build_export_model, export, render_text
from interplay.export import dot as dot_writer
from interplay.export.graph_formats import csv_tables
from interplay.kb import load_kb

HAS_PDFLATEX = shutil.which("pdflatex") is not None
HAS_BIBTEX = shutil.which("bibtex") is not None
HAS_DOT = shutil.which("dot") is not None
needs_pdflatex = pytest.mark.skipif(not HAS_PDFLATEX, reason="pdflatex is not installed (TeX Live: see .ci/run)")
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed (apt-get install graphviz)")

EVIL = r"\input{/etc/passwd} 100% & a_b <script>alert(1)</script>"
EVIL_YAML = textwrap.dedent(
    r"""
    nodes:
    - id: evil-node
      name: 'Evil \input{/etc/passwd} 100% & a_b <script>alert(1)</script> "q" $x$ #1 ~ ^ |'
      kind: mechanism
      description: 'desc \input{/etc/passwd} 100% & a_b <script>alert(1)</script>'
    edges:
    - id: evil-in
      source: adversarial-training
      target: evil-node
      sign: increases
      role: mechanism
      note: 'note \input{/etc/passwd} 100% & a_b <script>alert(1)</script>'
      evidence:
      - {ref: evil2024ref, kind: empirical, locator: 'loc \input{/etc/passwd} 100% & a_b <script>alert(1)</script>'}
    - id: evil-out
      source: evil-node
      target: evasion
      sign: decreases
      role: mechanism
      conditions: {adversary: malicious-suspect}
      evidence:
      - {ref: evil2024ref, kind: theoretical}
    references:
    - key: evil2024ref
      status: external
      entry_type: article
      title: 'Title \input{/etc/passwd} 100% & a_b <script>alert(1)</script> {unbalanced'
      authors: ['Mall O''ry & Co_', 'others']
      year: 2024
      venue: 'J. of <script> & 50%'
      note: 'ref note \input{/etc/passwd} %'
    """
)


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def model(kb):
    return build_export_model(kb)


@pytest.fixture(scope="module")
def evil_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("evil-overlay")
    (d / "evil.yaml").write_text(EVIL_YAML, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def evil_kb(evil_dir):
    return load_kb(None, [evil_dir])


@pytest.fixture(scope="module")
def evil_model(evil_kb):
    return build_export_model(evil_kb)


# ---------------------------------------------------------------- BibTeX: a small, strict parser


def parse_bibtex(text: str) -> dict[str, dict[str, str]]:
    """Parse BibTeX strictly: ``@type{key, name = {value}, ...}``; raise ValueError on anything else."""
    entries: dict[str, dict[str, str]] = {}
    i, n = 0, len(text)
    while True:
        at = text.find("@", i)
        if at < 0:
            if text[i:].strip() and any(not ln.lstrip().startswith("%") for ln in text[i:].strip().splitlines()):
                raise ValueError(f"trailing text: {text[i : i + 40]!r}")
            return entries
        gap = text[i:at]
        if any(ln.strip() and not ln.lstrip().startswith("%") for ln in gap.splitlines()):
            raise ValueError(f"text between entries: {gap[:60]!r}")
        m = re.compile(r"@([a-zA-Z]+)\{([A-Za-z0-9_:\-]+),\s*").match(text, at)
        if not m:
            raise ValueError(f"bad entry head at {at}: {text[at : at + 40]!r}")
        key = m.group(2)
        if key in entries:
            raise ValueError(f"duplicate key {key}")
        fields: dict[str, str] = {}
        j = m.end()
        while True:
            if text[j] == "}":
                j += 1
                break
            fm = re.compile(r"([a-zA-Z]+)\s*=\s*").match(text, j)
            if not fm:
                raise ValueError(f"{key}: bad field at {text[j : j + 40]!r}")
            name = fm.group(1).lower()
            j = fm.end()
            if text[j] == "{":
                depth, k = 0, j
                while True:
                    if text[k] == "\\":
                        k += 2
                        continue
                    depth += {"{": 1, "}": -1}.get(text[k], 0)
                    if depth == 0:
                        break
                    k += 1
                    if k >= n:
                        raise ValueError(f"{key}.{name}: unbalanced braces")
                value, j = text[j + 1 : k], k + 1
            else:
                vm = re.compile(r"\d+").match(text, j)
                if not vm:
                    raise ValueError(f"{key}.{name}: value must be braced or a number")
                value, j = vm.group(0), vm.end()
            if name in fields:
                raise ValueError(f"{key}: duplicate field {name}")
            fields[name] = value
            ws = re.compile(r"\s*,?\s*").match(text, j)
            j = ws.end()
        entries[key] = fields
        i = j


def cite_keys(tex: str) -> set[str]:
    return {k.strip() for group in re.findall(r"\\(?:ip)?[cC]ite\{([^}]*)\}", tex) for k in group.split(",") if k}


def test_bibtex_parses_and_covers_every_cite(model):
    tex = render_text(model, "latex")
    bib = parse_bibtex(render_text(model, "bib"))
    cites = cite_keys(tex) - {"#1"}  # the \ipCite macro's own definition
    assert cites, "the matrix cites its references"
    assert cites <= set(bib), f"cited but missing from the BibTeX: {sorted(cites - set(bib))}"
    assert set(bib) == cites, "the BibTeX holds exactly what the LaTeX cites"
    for key, fields in bib.items():
        assert "note" in fields or "title" in fields, key


def test_bibtex_never_invents_unresolved_references(kb, model):
    bib = parse_bibtex(render_text(model, "bib"))
    unresolved = [k for k, r in model.references.items() if r is not None and r.status == "unresolved"]
    assert unresolved, "the built-in KB has unresolved references"
    for key in unresolved:
        assert "title" not in bib[key] and "author" not in bib[key]
        assert f"[{kb.references[key].sok_number}]" in bib[key]["note"]


# ---------------------------------------------------------------- round trips


def _signs(g) -> dict[str, str]:
    return {d.get("id", k): d["sign"] for _, _, k, d in g.edges(keys=True, data=True)}


@pytest.mark.parametrize("fmt, reader", [("graphml", nx.read_graphml), ("gexf", nx.read_gexf)])
def test_graphml_gexf_round_trip(kb, model, tmp_path, fmt, reader):
    out = tmp_path / f"g.{fmt}"
    export(kb, fmt, out)
    g = reader(out)
    assert g.number_of_nodes() == len(model.nodes) and g.number_of_edges() == len(model.edges)
    assert _signs(g) == {e.id: e.sign for e in model.edges}
    assert g.nodes["differential-privacy"]["kind"] == "defense"


def test_json_round_trips(kb, model, tmp_path):
    out = tmp_path / "g.json"
    export(kb, "json", out)
    doc = json.loads(out.read_text())
    assert json.loads(json.dumps(doc)) == doc
    try:
        g = nx.node_link_graph(doc["graph"], edges="links")
    except TypeError:  # networkx < 3.4
        g = nx.node_link_graph(doc["graph"], link="links")
    assert g.number_of_nodes() == len(model.nodes) and g.number_of_edges() == len(model.edges)
    assert {k: d["sign"] for _, _, k, d in g.edges(keys=True, data=True)} == {e.id: e.sign for e in model.edges}
    assert all(d["evidence"] for _, _, d in g.edges(data=True))
    assert len(doc["cells"]) == len(kb.defenses) * len(kb.risks)
    answers = {"increase", "decrease", "none", "mixed", "ambiguous", "unknown"}
    assert {c["prediction"]["prediction"] for c in doc["cells"]} <= answers


def test_every_format_writes(kb, tmp_path):
    for fmt in FORMATS:
        if fmt in ("svg", "pdf"):
            continue  # rendered in the tests below
        res = export(kb, fmt, tmp_path / f"out.{fmt}")
        assert all(p.stat().st_size > 0 for p in res.paths), fmt
    assert {p.name for p in tmp_path.glob("out*.csv")} == {
        "out.csv", "out-evidence.csv", "out-predictions.csv", "out-observations.csv"
    }  # fmt: skip


# ---------------------------------------------------------------- escaping


def _assert_latex_escaped(text: str, what: str) -> None:
    assert r"\input{/etc/passwd}" not in text, what
    assert r"\textbackslash{}input\{/etc/passwd\}" in text, what
    assert "100%" not in text and r"100\%" in text, what
    assert "a_b" not in text and r"a\_b" in text, what
    assert "<script>" not in text and r"\textless{}script\textgreater{}" in text, what
    assert r"\& a\_b" in text, what


def test_kb_strings_are_escaped_in_every_text_format(evil_model, tmp_path):
    assert "evil-node" in evil_model.nodes and evil_model.references["evil2024ref"] is not None
    for fmt in ("latex", "tikz"):
        for standalone in (False, True):
            _assert_latex_escaped(render_text(evil_model, fmt, standalone), f"{fmt} standalone={standalone}")
    _assert_latex_escaped(render_text(evil_model, "bib"), "bib")
    parse_bibtex(render_text(evil_model, "bib"))

    dot_src = render_text(evil_model, "dot")
    assert not re.search(r"(?<!\\)\\input", dot_src.replace("\\\\", "")), "a single backslash survived in DOT"
    assert r"\\input{/etc/passwd}" in dot_src
    assert all(line.count('"') % 2 == 0 or '\\"' in line for line in dot_src.splitlines())

    mermaid = render_text(evil_model, "mermaid")
    assert "<script>" not in mermaid and "#60;script#62;" in mermaid
    for line in mermaid.splitlines():
        if "evil" in line.lower():
            assert line.count('"') == 2, line  # only the label's own quotes

    doc = json.loads(render_text(evil_model, "json"))
    notes = {d.get("note") for d in doc["graph"]["links"]}
    assert f"note {EVIL}" in notes

    tables = csv_tables(evil_model)
    rows = list(csv.DictReader(tables["edges"].splitlines()))
    assert {r["note"] for r in rows if r["id"] == "evil-in"} == {f"note {EVIL}"}
    assert len({len(r) for r in csv.reader(tables["evidence"].splitlines())}) == 1

    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        out = tmp_path / f"evil.{fmt}"
        export_model(evil_model, fmt, out)
        g = reader(out)
        assert g.nodes["evil-node"]["description"] == f"desc {EVIL}"


def export_model(model, fmt, out):
    from interplay.export import graph_formats

    {"graphml": graph_formats.write_graphml, "gexf": graph_formats.write_gexf}[fmt](model, out)


def test_matplotlib_svg_is_escaped_and_well_formed(evil_kb, evil_dir, tmp_path):
    out = tmp_path / "evil.svg"
    res = export(evil_kb, "svg", out, renderer="matplotlib")
    assert res.renderer == "matplotlib"
    text = out.read_text()
    ET.fromstring(text.encode())
    assert "<script" not in text


@needs_dot
def test_dot_renders_svg_and_pdf(kb, model, evil_kb, tmp_path):
    out = tmp_path / "g.svg"
    res = export(kb, "svg", out, renderer="graphviz")
    assert res.renderer == "graphviz"
    root = ET.fromstring(out.read_bytes())
    groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") in ("node", "edge")]
    assert sum(g.get("class") == "edge" for g in groups) == len(model.edges)
    assert sum(g.get("class") == "node" for g in groups) == len(model.nodes)
    export(kb, "pdf", tmp_path / "g.pdf")
    assert (tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"
    export(evil_kb, "svg", tmp_path / "evil.svg")
    evil = (tmp_path / "evil.svg").read_text()
    ET.fromstring(evil.encode())
    assert "<script" not in evil and "&lt;script&gt;" in evil


def test_graphviz_only_option_says_what_to_install(kb, tmp_path, monkeypatch):
    monkeypatch.setattr(dot_writer.shutil, "which", lambda _name: None)
    with pytest.raises(ExportError, match="apt-get install graphviz"):
        export(kb, "svg", tmp_path / "g.svg", renderer="graphviz")
    res = export(kb, "pdf", tmp_path / "g.pdf")  # auto falls back to matplotlib
    assert res.renderer == "matplotlib" and (tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"


# ---------------------------------------------------------------- pdflatex


def _pdflatex(tex: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
        cwd=tex.parent, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@needs_pdflatex
def test_cli_latex_standalone_compiles_and_resolves_every_cite(tmp_path):
    res = CliRunner().invoke(app, ["export", "latex", "--standalone", "-o", str(tmp_path / "m.tex")])
    assert res.exit_code == 0, res.output
    first = _pdflatex(tmp_path / "m.tex")
    assert first.returncode == 0, first.stdout[-2000:]
    assert (tmp_path / "m.pdf").read_bytes()[:5] == b"%PDF-"
    if not HAS_BIBTEX:
        pytest.skip("bibtex is not installed: the PDF compiled, the citations were not resolved")
    bib = subprocess.run(["bibtex", "m"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert bib.returncode == 0, bib.stdout
    assert "didn't find a database entry" not in bib.stdout and "Warning--" not in bib.stdout, bib.stdout
    for _ in range(2):
        assert _pdflatex(tmp_path / "m.tex").returncode == 0
    log = (tmp_path / "m.log").read_text(errors="replace")
    assert not re.search(r"Citation `[^']*' on page \d+ undefined", log), "a \\cite is undefined"
    assert "There were undefined references" not in log


@needs_pdflatex
def test_tikz_and_escaped_latex_compile(kb, evil_model, tmp_path):
    (tmp_path / "t.tex").write_text(render_text(build_export_model(kb), "tikz", standalone=True))
    run = _pdflatex(tmp_path / "t.tex")
    assert run.returncode == 0, run.stdout[-2000:]
    (tmp_path / "evil.tex").write_text(render_text(evil_model, "latex", standalone=True))
    run = _pdflatex(tmp_path / "evil.tex")
    assert run.returncode == 0, run.stdout[-2000:]
    assert "/etc/passwd" not in _opened_files(tmp_path / "evil.log"), "the KB string was executed as \\input"


@needs_pdflatex
def test_fragments_compile_with_the_packages_they_list(model, tmp_path):
    for fmt in ("latex", "tikz"):
        frag = render_text(model, fmt)
        needs = re.search(r"^% (?:Packages this fragment needs|Needs): (.*)$", frag, re.M).group(1)
        (tmp_path / f"{fmt}-frag.tex").write_text(frag)
        if fmt == "latex":
            preamble = f"\\usepackage{{{re.search(r'usepackage[{]([^}]*)[}]', needs).group(1)}}}"
        else:
            preamble = needs
        doc = f"\\documentclass{{article}}\n{preamble}\n\\begin{{document}}\n\\input{{{fmt}-frag}}\n\\end{{document}}\n"
        (tmp_path / f"{fmt}-doc.tex").write_text(doc)
        run = _pdflatex(tmp_path / f"{fmt}-doc.tex")
        assert run.returncode == 0, (fmt, run.stdout[-2000:])


def _opened_files(log: Path) -> str:
    return " ".join(re.findall(r"\((/[^\s()]+)", log.read_text(errors="replace")))


# ---------------------------------------------------------------- options and CLI


def test_subset_keeps_the_paths_between_the_chosen_names(kb):
    m = build_export_model(kb, subset=["RD1", "membership inference"])
    assert m.defenses == ["adversarial-training"] and m.risks == ["membership-inference"]
    assert {n.kind for n in m.nodes.values()} >= {"defense", "risk"}
    assert all(e.source in m.nodes and e.target in m.nodes for e in m.edges)
    assert not {"evasion", "differential-privacy"} & set(m.nodes)
    assert len(m.cells) == 1 and m.cells[0].prediction is not None


def test_validations_are_reported_missing_not_faked(kb):
    m = build_export_model(kb, include="observations,predictions,validations")
    assert any("no validation results" in n for n in m.notes)
    tex = render_text(m, "latex")
    assert r"\ipConfirmed}" not in tex.split(r"\begin{table}")[1]
    marked = build_export_model(kb, include="predictions,validations",
                         validations={("differential-privacy", "attribute-inference"): "confirmed"})  # fmt: skip
    assert r"\ipConfirmed" in render_text(marked, "latex").split(r"\begin{table}")[1]


def test_include_controls_the_layers(kb):
    m = build_export_model(kb, include="predictions")
    assert not m.observations and m.predictions
    assert set(m.references) == {r for e in m.edges for r in e.refs}, "without observations, only edge evidence"
    with pytest.raises(ExportError, match="unknown item"):
        build_export_model(kb, include="observations,guesses")


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "docx", "-o", "x.docx"], "unknown format"),
        (["export", "dot", "-o", "x.dot", "--subset", "adversarial-trainng"], "did you mean"),
        (["export", "dot", "-o", "x.dot", "--subset", "overfitting"], "defenses and risks"),
        (["export", "dot", "-o", "x.dot", "--method", "oracle"], "unknown method"),
        (["export", "dot", "-o", "x.dot", "--include", "rumours"], "unknown item"),
    ],
)
def test_cli_usage_errors_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not list(tmp_path.iterdir()), "nothing is written on a usage error"


def test_cli_writes_with_options(tmp_path):
    out = tmp_path / "sub.json"
    res = CliRunner().invoke(
        app, ["export", "json", "-o", str(out), "--subset", "PD1,P1,P3", "--method", "guideline",
              "--include", "predictions,validations"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "no validation results are available" in res.output
    doc = json.loads(out.read_text())
    assert doc["method"] == "guideline" and doc["defenses"] == ["differential-privacy"]
    assert [c["risk"] for c in doc["cells"]] == ["membership-inference", "attribute-inference"]


def test_importing_export_does_not_import_torch():
    code = "import sys, interplay.export, interplay.cli.export_commands; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
