"""Hostile and broken KB input: every fault is a located problem (exit 1, no traceback), never a hang or a crash."""

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from interplay.cli.app import app
from interplay.kb import KBError, Problem, load_kb
from interplay.kb.integrity import CYCLE_LIMIT, cycle_report, cycles, cyclic_components

EDGE = (
    "- {{id: {a}--{b}, source: {a}, target: {b}, sign: increases, role: mechanism,"
    " evidence: [{{ref: duddu2024sok, kind: conjectured}}]}}\n"
)


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _tree(root: Path) -> dict[str, object]:
    """Every path under ``root`` with its bytes (files), its target (links) or "dir"."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = os.readlink(p) if p.is_symlink() else "dir" if p.is_dir() else "?"
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as f:
                out[str(p.relative_to(root))] = f.read()
    return out


def _assert_rejected(args: list, tmp_path: Path, *fragments: str) -> None:
    """``kb validate ARGS`` exits 1 naming every fragment, with no traceback and nothing written, as text and JSON."""
    before = _tree(tmp_path)
    cache = Path(os.environ["XDG_CACHE_HOME"])
    text = _invoke("kb", "validate", *args)
    assert text.exit_code == 1 and type(text.exception) is SystemExit, text.output
    assert "Traceback" not in text.output and text.stdout == ""
    assert "The knowledge base is invalid" in text.stderr
    for fragment in fragments:
        assert fragment in text.stderr, (fragment, text.stderr)
    as_json = _invoke("kb", "validate", *args, "--json")
    assert as_json.exit_code == 1 and type(as_json.exception) is SystemExit
    assert "Traceback" not in as_json.output
    error = json.loads(as_json.stdout)["error"]  # exactly one JSON document on stdout
    assert error["kind"] == "KBError"
    for fragment in fragments:
        assert fragment in error["message"], (fragment, error["message"])
    assert _tree(tmp_path) == before and not any(cache.iterdir())


def _overlay(tmp_path: Path, name: str = "x.yaml", content: str | bytes = "") -> Path:
    d = tmp_path / "overlay"
    d.mkdir(exist_ok=True)
    if isinstance(content, bytes):
        (d / name).write_bytes(content)
    else:
        (d / name).write_text(content)
    return d


# --- 3. denial of service: cycles are reported with a bound; aliases cannot expand a small file into gigabytes ---


def _dense_overlay(tmp_path: Path, n: int) -> Path:
    nodes = "".join(f"- {{id: n{i:02}, name: N{i}, kind: mechanism}}\n" for i in range(n))
    edges = "".join(EDGE.format(a=f"n{i:02}", b=f"n{j:02}") for i in range(n) for j in range(n) if i != j)
    return _overlay(tmp_path, "dense.yaml", "nodes:\n" + nodes + "edges:\n" + edges)


def test_dense_cycle_validates_quickly_and_reports_a_bounded_list(tmp_path):
    overlay = _dense_overlay(tmp_path, 12)  # 12 mutually connected nodes: about 10^8 simple cycles
    before = _tree(tmp_path)
    start = time.perf_counter()
    out = _invoke("kb", "validate", "--overlay", overlay, "--json")
    assert time.perf_counter() - start < 10
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)["cycles"]
    assert 0 < len(found) <= CYCLE_LIMIT == 20
    assert [len(c) for c in found] == sorted(len(c) for c in found) and len(found[0]) == 2  # shortest first
    for c in found:  # each is a simple cycle of the overlay, which links every two different nodes
        assert len(set(c)) == len(c) >= 2 and set(c) <= {f"n{i:02}" for i in range(12)}
    start = time.perf_counter()
    text = _invoke("kb", "validate", "--overlay", overlay)
    assert time.perf_counter() - start < 10
    assert text.exit_code == 0 and text.stdout.count("(reported, not an error)") == len(found)
    assert _tree(tmp_path) == before


def test_cycle_report_names_components_and_says_the_list_was_cut(tmp_path):
    kb = load_kb(None, [_dense_overlay(tmp_path, 12)])
    report = cycle_report(kb)
    assert report.components == cyclic_components(kb) == [[f"n{i:02}" for i in range(12)]]
    assert report.truncated and report.cycles == cycles(kb) and len(report.cycles) == CYCLE_LIMIT
    assert len(cycles(kb, limit=3)) == 3
    covered = {n for c in report.cycles for n in c}
    assert covered == set(report.components[0])  # the shortest cycle through every node comes first


def test_a_single_loop_is_reported_whole(tmp_path):
    overlay = _overlay(tmp_path, "loop.yaml", "edges:\n" + EDGE.format(a="memorization", b="tail-length"))
    report = cycle_report(load_kb(None, [overlay]))
    assert report == ([["memorization", "tail-length"]], [["memorization", "tail-length"]], False)
    assert cycle_report(load_kb()) == ([], [], False)


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    lines = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]" for i in range(1, 12)]  # 10^12 strings
    overlay = _overlay(tmp_path, "laughs.yaml", "\n".join(lines) + "\ndefenses:\n- id: *x11\n  name: *x11\n")
    start = time.perf_counter()
    _assert_rejected(["--overlay", overlay], tmp_path, "laughs.yaml", "line 2", "aliases (*x0) are not allowed")
    assert time.perf_counter() - start < 10


# --- 8. duplicate keys are located problems, not "last one wins" ---


def test_duplicate_keys_are_located_problems(tmp_path):
    overlay = _overlay(
        tmp_path,
        "dup.yaml",
        "defenses:\n"  # line 1
        "- id: smoothing\n"
        "  name: Smoothing\n"  # line 3
        "  category: security\n"
        "  name: Smoothed\n"  # line 5
        "  targets: [evasion]\n"
        "edges:\n"
        "- {id: e1, source: smoothing, target: evasion, sign: decreases, role: mechanism,\n"
        "   evidence: [{ref: duddu2024sok, ref: madry2018towards, kind: conjectured}]}\n"  # line 9
        "defenses: []\n",  # line 10
    )
    file = str(overlay / "dup.yaml")
    with pytest.raises(KBError) as exc:
        load_kb(None, [overlay])
    assert exc.value.problems == [
        Problem(file, "smoothing", "name", "duplicate key at line 5 (first at line 3)"),
        Problem(file, "e1", "ref", "duplicate key at line 9 (first at line 9)"),
        Problem(file, "-", "defenses", "duplicate key at line 10 (first at line 1)"),
    ]
    _assert_rejected(
        ["--overlay", overlay],
        tmp_path,
        f"{file}: smoothing: name: duplicate key at line 5 (first at line 3)",
        f"{file}: -: defenses: duplicate key at line 10 (first at line 1)",
    )


def test_duplicate_key_in_the_kb_dir_and_merge_keys_still_work(kb_copy, tmp_path):
    path = kb_copy / "entities.yaml"
    path.write_text(path.read_text().replace("  code: RD1\n", "  code: RD1\n  code: RD9\n", 1))
    _assert_rejected(["--kb", kb_copy], tmp_path, "entities.yaml: adversarial-training: code: duplicate key")
    merge = "defenses:\n- <<: {name: Smoothing, category: security}\n  id: smoothing\n  targets: [evasion]\n"
    merged = _overlay(tmp_path, "merge.yaml", merge)
    assert load_kb(None, [merged]).defenses["smoothing"].name == "Smoothing"


def test_python_tags_are_never_constructed(tmp_path):
    marker = tmp_path / "pwned"
    overlay = _overlay(tmp_path, "evil.yaml", f"defenses: !!python/object/apply:os.system ['touch {marker}']\n")
    _assert_rejected(["--overlay", overlay], tmp_path, "evil.yaml", "line 1", "malformed YAML", "constructor")
    assert not marker.exists()


# --- 5. ordinary faults in KB files are located problems, not tracebacks ---

NOT_A_FILE = "not a regular file"
FAULTS = {
    "not-utf8": (b"defenses: []\n# caf\xe9\n", ["line 2", "not UTF-8 text (byte 0xe9 at offset 18)"]),
    "nul-byte": (b"defenses: []\n\x00\n", ["line 2", "character 0x0000 is not allowed"]),
    "deep-lists": ("edges: " + "[" * 10000 + "]" * 10000 + "\n", ["line 1", "nested more than 100 levels deep"]),
    "deep-maps": ("edges: " + "{a: " * 10000 + "}" * 10000 + "\n", ["line 1", "nested more than 100 levels deep"]),
    "empty": ("", ["empty file: expected a mapping of sections (defenses, risks,"]),
    "comments-only": ("# nothing yet\n", ["empty file"]),
    "top-level-list": ("- defenses\n- edges\n", ["the top level is a list: expected a mapping of sections"]),
    "top-level-scalar": ("defenses\n", ["the top level is a str: expected a mapping of sections"]),
    "two-documents": (
        "defenses: []\n---\nedges: []\n",
        ["line 2", "malformed YAML: expected a single document in the stream, but found another"],
    ),
}


@pytest.mark.parametrize("case", list(FAULTS))
def test_bad_file_is_a_located_problem(case, tmp_path, kb_copy):
    content, expect = FAULTS[case]
    overlay = _overlay(tmp_path, f"{case}.yaml", content)
    _assert_rejected(["--overlay", overlay], tmp_path, str(overlay / f"{case}.yaml"), *expect)
    (kb_copy / f"{case}.yaml").write_bytes((overlay / f"{case}.yaml").read_bytes())
    _assert_rejected(["--kb", kb_copy], tmp_path, str(kb_copy / f"{case}.yaml"), *expect)


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda p: p.mkdir(), NOT_A_FILE),
        (lambda p: p.symlink_to(p.parent / "missing"), "broken symbolic link"),
        (lambda p: p.symlink_to(p.parent), NOT_A_FILE),
        pytest.param(  # reading it would block forever
            lambda p: os.mkfifo(p), NOT_A_FILE, marks=pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
        ),
    ],
    ids=["folder", "broken-symlink", "symlink-to-folder", "fifo"],
)
def test_yaml_name_that_is_not_a_file(make, reason, tmp_path, kb_copy):
    for where in (tmp_path / "overlay", kb_copy):
        where.mkdir(exist_ok=True)
        make(where / "odd.yaml")
    overlay = tmp_path / "overlay"
    _assert_rejected(["--overlay", overlay], tmp_path, f"{overlay / 'odd.yaml'}: -: -: {reason}")
    _assert_rejected(["--kb", kb_copy], tmp_path, f"{kb_copy / 'odd.yaml'}: -: -: {reason}")


def test_kb_dir_that_is_missing_or_a_file(tmp_path):
    missing, file = tmp_path / "missing", tmp_path / "file.yaml"
    file.write_text("defenses: []\n")
    _assert_rejected(["--kb", missing], tmp_path, f"{missing}: -: -: no such directory")
    _assert_rejected(["--kb", file], tmp_path, f"{file}: -: -: not a directory")
    _assert_rejected(["--overlay", missing], tmp_path, f"{missing}: -: -: no such directory")


def test_unreadable_file(tmp_path, monkeypatch):
    overlay = _overlay(tmp_path, "locked.yaml", "defenses: []\n")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    _assert_rejected(["--overlay", overlay], tmp_path, "locked.yaml: -: -: cannot read the file: Permission denied")
