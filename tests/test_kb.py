import json
import subprocess
import sys

import pytest
import yaml
from conftest import SHARED

from interplay.kb import KBError, UnknownName, load_kb

SOK_TABLE = SHARED / "sok" / "sok_table.yaml"
CODES = {
    "RD1": "adversarial-training", "RD2": "outlier-removal", "RD3": "watermarking", "RD4": "fingerprinting",
    "PD1": "differential-privacy", "FD1": "group-fairness", "FD2": "explanations",
    "R1": "evasion", "R2": "poisoning", "R3": "model-ownership", "P1": "membership-inference",
    "P2": "data-reconstruction", "P3": "attribute-inference", "P4": "distribution-inference", "F": "discrimination",
}  # fmt: skip


def test_stats_meet_the_framework(kb):
    s = kb.stats()
    assert (s["defenses"], s["risks"]) == (15, 8)
    assert len(kb.sok_defenses) == 7 and list(kb.defenses)[:7] == kb.sok_defenses  # the SoK's seven come first
    assert s["factors"] >= 10 and s["mechanism_edges"] >= 50 and s["observations"] >= 56
    assert {n.id for n in kb.nodes.values() if n.kind == "mediator"} == {"overfitting", "memorization"}


def test_canonical_slugs_and_codes(kb):
    for code, slug in CODES.items():
        assert kb.resolve(code) == slug
        assert kb.resolve(slug.upper()) == slug
    assert kb.resolve("DP-SGD", "defense") == "differential-privacy"
    assert kb.resolve("property inference") == "distribution-inference"
    assert kb.resolve("o2.1") == "distinguishability-datasets"


def test_unknown_name_suggests(kb):
    with pytest.raises(UnknownName) as exc:
        kb.resolve("membership-inferense", "risk")
    assert exc.value.suggestions == ["membership-inference"]
    with pytest.raises(UnknownName):
        kb.resolve("evasion", "defense")


def _sok():
    if not SOK_TABLE.exists():
        pytest.skip(f"{SOK_TABLE} not present")
    return yaml.safe_load(SOK_TABLE.read_text())


def test_every_table2_arrow_is_an_edge(kb):
    sok = _sok()
    by_number = {r.sok_number: k for k, r in kb.references.items() if r.sok_number}
    edges = {(e.source, e.target): e for e in kb.edges if e.sok_arrow}
    fac = {f.code: f.id for f in kb.factors.values()}
    rows = [(CODES[x["defense"]], fac[x["factor"]], "up" if x["effect"] == "increase" else "down", x["refs"])
            for x in sok["defense_factor_effects"]]  # fmt: skip
    rows += [(fac[x["factor"]], CODES[x["risk"]], "up" if x["sign"] == "+" else "down", x["refs"])
             for x in sok["risk_factor_relations"]]  # fmt: skip
    assert len(rows) == 50 == len(edges)
    for src, dst, arrow, refs in rows:
        e = edges[(src, dst)]
        assert e.sok_arrow == arrow, (src, dst)
        assert {by_number[n] for n in refs} <= {ev.ref for ev in e.evidence}, (src, dst)


def test_every_table3_cell_is_an_observation(kb):
    sok = _sok()
    by_number = {r.sok_number: k for k, r in kb.references.items() if r.sok_number}
    word = {"up": "increase", "down": "decrease", "unexplored": "unexplored"}
    assert len(sok["interactions"]) == 56
    for cell in sok["interactions"]:
        obs = kb.observation(CODES[cell["defense"]], CODES[cell["risk"]])
        assert obs.direction == word[cell["direction"]], obs.id
        assert obs.refs == [by_number[n] for n in cell["refs"]], obs.id
        if cell.get("paper_conjecture"):
            assert obs.conjecture.direction == word[cell["paper_conjecture"]]
    assert sum(o.intended for o in kb.observations) == 8
    contexts = {o.id: x.context for o in kb.observations for x in o.exceptions if x.context}
    assert contexts == {
        "adversarial-training/model-ownership": {"adversary": "malicious-accuser"},
        "differential-privacy/distribution-inference": {"adversary-knows-defense": "true"},
        "group-fairness/attribute-inference": {"adversary-knows-defense": "true"},
    }


def test_every_edge_and_observation_cites_known_references(kb):
    for e in kb.edges:
        assert e.evidence and all(ev.ref in kb.references for ev in e.evidence)
    unresolved = [r for r in kb.references.values() if r.status == "unresolved"]
    assert unresolved and all(r.title is None and not r.authors for r in unresolved)


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "file,old,new,expect",
    [
        ("entities.yaml", "- id: poisoning\n", "- id: evasion\n", ["entities.yaml", "evasion", "duplicate id"]),
        (
            "table2.yaml",
            "- ref: madry2018towards",
            "- ref: nobody2099",
            ["table2.yaml", "unknown reference 'nobody2099'"],
        ),
        (
            "table2.yaml",
            "sign: increases",
            "sign: grows",
            ["table2.yaml", "adversarial-training--training-data-size", "sign"],
        ),
        ("table2.yaml", "target: training-data-size", "target: data-sise", ["edge to a missing node 'data-sise'"]),
        ("mechanisms.yaml", "nodes:\n", "nodes: [\n", ["mechanisms.yaml", "malformed YAML"]),
    ],
)
def test_bad_input_names_file_id_and_reason(kb_copy, file, old, new, expect):
    _edit(kb_copy / file, old, new)
    with pytest.raises(KBError) as exc:
        load_kb(kb_copy)
    for fragment in expect:
        assert fragment in str(exc.value)


def test_bare_sign_symbol_is_rejected(kb_copy):
    _edit(kb_copy / "table2.yaml", "sign: decreases", "sign: '-'")
    with pytest.raises(KBError, match="as a word"):
        load_kb(kb_copy)


def test_overlay_adds_and_collisions_are_errors(tmp_path, kb):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "extra.yaml").write_text(
        "defenses:\n- id: smoothing\n  name: Smoothing\n  category: security\n  targets: [evasion]\n"
        "references:\n- key: mine2025\n  status: external\n  title: My note\n"
    )
    merged = load_kb(None, [overlay])
    assert "smoothing" in merged.defenses and merged.resolve("Smoothing") == "smoothing"
    (overlay / "clash.yaml").write_text("risks:\n- id: evasion\n  name: Again\n  category: security\n")
    with pytest.raises(KBError, match="duplicate id"):
        load_kb(None, [overlay])


def test_cli_validate_and_broken_copy(cli, kb_copy):
    ok = cli("kb", "validate")
    assert ok.exit_code == 0 and "valid" in ok.output
    _edit(kb_copy / "observations.yaml", "- khaled2022careful", "- khaled2099missing")
    bad = cli("kb", "validate", "--kb", kb_copy)
    assert bad.exit_code == 1
    assert "observations.yaml" in bad.output and "adversarial-training/model-ownership" in bad.output
    assert "Traceback" not in bad.output


def test_cli_stats_list_show(cli):
    stats = json.loads(cli("kb", "stats", "--json").stdout)
    assert stats["defenses"] == 15 and stats["observations"] == 56
    risks = json.loads(cli("list", "risks", "--json").stdout)
    assert [r["id"] for r in risks][:3] == ["evasion", "poisoning", "model-ownership"]
    shown = json.loads(cli("kb", "show", "PD1", "--json").stdout)
    assert shown["id"] == "differential-privacy" and shown["edges"]
    unknown = cli("kb", "show", "differentail-privacy")
    assert unknown.exit_code == 2 and "did you mean" in unknown.output


def test_kb_and_reasoner_never_import_torch():
    code = (
        "import sys, interplay, interplay.interactions, interplay.cli.app;"
        "from interplay.interactions import predict_all; predict_all(interplay.load_kb());"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cycles_are_reported_not_fatal(cli, tmp_path):
    overlay = tmp_path / "loop"
    overlay.mkdir()
    (overlay / "loop.yaml").write_text(
        "edges:\n- id: memorization--tail-length\n  source: memorization\n  target: tail-length\n  sign: increases\n"
        "  role: mechanism\n  evidence: [{ref: duddu2024sok, kind: conjectured}]\n"
    )
    out = cli("kb", "validate", "--overlay", overlay, "--json")
    assert out.exit_code == 0
    assert ["tail-length", "memorization"] in [sorted(c, reverse=True) for c in json.loads(out.stdout)["cycles"]]
