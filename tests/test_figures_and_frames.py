"""Paper figures (``interplay export heatmap|forest|sweep``, :mod:`interplay.export.charts`) and tidy DataFrames
(``to_frame()``, ``interplay results --csv``) over a store of hand-written records (tests/validation_store.py)."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from PIL import Image
from validation_store import CELLS, make_store

import interplay
from interplay import frames
from interplay.export import charts
from interplay.validators.store import ResultStore

SWEEP = {
    "defense": "differential-privacy", "risk": "membership-inference", "factor": "D3", "factor_node": "D3",
    "knob": "n_attributes", "claim": {"direction": "increase"}, "verdict": "confirms", "kind": "sweep",
    "edges": {"D3->membership-inference": {"verdict": "confirms", "effect": {}}},
    "points": [{"value": v, "effect": {"metric": "auc", "baseline": 0.55 + 0.02 * i, "defended": 0.54 + 0.02 * i,
                                       "difference": -0.01, "ci95": [-0.03, 0.01], "p_value": 0.3, "min_effect": 0.02,
                                       "q_value": 0.4}}
               for i, v in enumerate((10, 20, 40))],
}  # fmt: skip


@pytest.fixture
def store(kb, tmp_path):
    path = make_store(kb, tmp_path / "results.sqlite")
    ResultStore(path).save_sweep("sweep-dp-mia", ["D3->membership-inference"], SWEEP)
    return path


def _pixels_near(im: Image.Image, hex_color: str, tol: int = 12) -> int:
    target = charts._rgb(hex_color)
    rgb = [round(c * 255) for c in target]
    return sum(n for n, px in im.getcolors(1 << 24) if all(abs(a - b) <= tol for a, b in zip(px[:3], rgb, strict=True)))


def test_export_heatmap_writes_a_png_with_the_matrix(cli, store, tmp_path):
    out = tmp_path / "fig" / "heatmap.png"
    r = cli("export", "heatmap", "-o", out, "--store", store)
    assert r.exit_code == 0, r.output
    im = Image.open(out).convert("RGB")
    assert im.size == (2100, pytest.approx(810, abs=30))  # 7 in x ~2.7 in at 300 dpi: the page width of a paper
    # literature and prediction panels: increase (vermillion) and decrease (bluish green) cells, many of each
    assert _pixels_near(im, charts.INCREASE) > 100_000 and _pixels_near(im, charts.DECREASE) > 30_000
    # the observed panel: the two confirmed decreases are bluish green, the refuted +0.08 cell (FD1 -> P1) is drawn
    # by its effect; unvalidated cells are the light grey
    assert _pixels_near(im, charts.EMPTY, 3) > 200_000
    assert len(im.getcolors(1 << 24)) > 500  # text and glyphs, not flat blocks


def test_figures_from_the_api_in_each_format(store, tmp_path):
    for kind, cell, suffix, magic in (("forest", "DP,MIA", ".pdf", b"%PDF"), ("sweep", ("DP", "MIA"), ".svg", b"<?xml"),
                                      ("heatmap", None, ".png", b"\x89PNG")):  # fmt: skip
        res = interplay.export(kind, tmp_path / f"f{suffix}", cell=cell, store=store)
        assert res.paths[0].read_bytes()[:5].startswith(magic)
    fig = interplay.figure("forest", cell=("differential-privacy", "membership-inference"), store=store)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == 5 + 1  # five seeds and the mean
    assert "smallest effect of interest" in [t.get_text() for t in fig.legends[0].get_texts()]
    svg = (tmp_path / "f.svg").read_text(encoding="utf-8")
    assert "KB claims increase; sweep confirms" in svg  # text kept as text


def test_report_embeds_the_figures(store, tmp_path):
    page = interplay.report(tmp_path / "r.html", store=store).read_text(encoding="utf-8")
    # the heat map, one forest plot per validated cell and the sweep
    assert page.count('src="data:image/png;base64,') == 1 + len(CELLS) + 1
    assert "differential-privacy → membership-inference: sweep of D3" in page
    assert "<script" not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "histogram", "-o", "{d}/x.png"], "unknown format 'histogram'"),
        (["export", "heatmap", "-o", "{d}/x.png", "--store", "{empty}"], "holds no validation"),
        (["export", "heatmap", "-o", "{d}/x.png"], "holds no validation"),  # the default store does not exist
        (["export", "forest", "-o", "{d}/x.png", "--cell", "AT,MIA", "--store", "{store}"], "never validated"),
        (["export", "forest", "-o", "{d}/x.png", "--store", "{store}"], "give cell (--cell DEFENSE,RISK)"),
        (["export", "sweep", "-o", "{d}/x.png", "--cell", "AT,evasion", "--store", "{store}"], "no sweep of"),
        (["export", "heatmap", "-o", "{d}/x.txt", "--store", "{store}"], "a figure is written as .png"),
        (["export", "heatmap", "-o", "{d}/blocker/x.png", "--store", "{store}"], "is a file, not a folder"),
        (["results", "--csv", "--json", "--store", "{store}"], "choose one"),
        (["export", "risk-coverage", "-o", "{d}/x.png", "--cell", "DP,MIA"], "shows every cell"),
    ],
)
def test_bad_figure_requests_exit_2_and_write_nothing(cli, store, tmp_path, args, message):
    d = tmp_path / "out"
    d.mkdir()
    (d / "blocker").write_text("a file", encoding="utf-8")
    empty = tmp_path / "empty.sqlite"
    ResultStore(empty).runs("none")  # an interplay store with no rows
    before = sorted(p.name for p in d.rglob("*"))
    r = cli(*(a.format(d=d, store=store, empty=empty) for a in args))
    assert r.exit_code == 2 and message in r.output, r.output
    assert "Traceback" not in r.output
    assert sorted(p.name for p in d.rglob("*")) == before


def test_a_failed_write_leaves_no_partial_file(cli, store, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def full_disk(self, target, **kwargs):
        target.write(b"\x89PNG half a figure")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "x.png"
    r = cli("export", "heatmap", "-o", out, "--store", store)
    assert r.exit_code == 2 and f"cannot write {out}: No space left" in " ".join(r.output.split())
    assert list((tmp_path / "out").iterdir()) == []


def test_results_csv_is_the_to_frame_table(cli, store):
    table = interplay.results(store).to_frame()
    assert list(table.columns) == list(frames.CELL_COLUMNS)
    assert len(table) == len(ResultStore(store, readonly=True).validations())  # one row per stored cell
    r = cli("results", "--csv", "--store", store)
    assert r.exit_code == 0
    assert pd.read_csv(io.StringIO(r.stdout)).shape == table.shape
    assert r.stdout == table.to_csv(index=False)
    row = table[(table.defense == "group-fairness") & (table.risk == "membership-inference")].iloc[0]
    assert (row.verdict, row.difference, row.ci_low, row.ci_high) == ("refuted", -0.08, -0.11, -0.05)


def test_seeds_frame_reproduces_the_effect(store):
    cell = next(c for c in interplay.results(store).cells if c.defense == "differential-privacy"
                and c.risk == "membership-inference")  # fmt: skip
    seeds = cell.seeds_frame(store)
    assert list(seeds.columns) == list(frames.SEED_COLUMNS) and list(seeds.seed) == [0, 1, 2, 3, 4]
    assert seeds.difference.mean() == pytest.approx(cell.effect.difference)
    # records whose scores do not give the document's effect are not shown as its seeds
    wrong = {**cell.doc, "effect": {**cell.doc["effect"], "difference": 0.5}}
    assert frames.seed_rows(wrong, ResultStore(store).runs(cell.doc["config_hash"])) == []


def test_sweep_measurement_and_evaluation_frames():
    sweep = interplay.Sweep.from_dict({**SWEEP, "risk_trend": {"rho": 1.0, "p_value": 0.1}})
    t = sweep.to_frame()
    assert list(t.columns) == list(frames.SWEEP_COLUMNS) and list(t.value) == [10, 20, 40]
    assert list(t.q_value) == [0.4] * 3 and set(t.claim) == {"increase"}
    m = interplay.FactorMeasurement.from_dict({"defense": "adversarial-training", "seeds": 4, "factors": {
        "M2": {"observed": "increase", "difference": 0.1, "p_value": 0.01, "q_value": 0.02, "kb": "increases",
               "verdict": "confirms"}}})  # fmt: skip
    assert m.to_frame().to_dict("records") == [{"defense": "adversarial-training", "factor": "M2", "kb": "increases",
        "observed": "increase", "difference": 0.1, "p_value": 0.01, "q_value": 0.02, "verdict": "confirms",
        "seeds": 4}]  # fmt: skip
    e = interplay.evaluate_loo()
    table = e.to_frame()
    assert list(table.method) == [e["method"], *(b["method"] for b in e["baselines"])]
    assert table.accuracy.iloc[0] == e["accuracy"] and table.accuracy_ci_low.iloc[0] == e["accuracy_ci95"][0]


def test_risk_coverage_answers_the_most_confident_first_and_keeps_ties_together():
    records = [{"confidence": 0.9, "correct": True}, {"confidence": 0.8, "correct": False},
               {"confidence": 0.8, "correct": True}, {"confidence": 0.1, "correct": False}]  # fmt: skip
    assert charts.selective_points(records) == [(0.25, 0.0), (0.75, pytest.approx(1 / 3)), (1.0, 0.5)]
    fig = charts.risk_coverage({"graph": records})
    xs, ys = fig.axes[0].lines[0].get_data()
    assert list(xs) == [0.25, 0.75, 1.0] and ys[-1] == 0.5
    abstained = [*records, {"confidence": None, "correct": False}]  # answered never, counted in the coverage
    assert charts.selective_points(abstained) == [(0.2, 0.0), (0.6, pytest.approx(1 / 3)), (0.8, 0.5)]


def test_risk_coverage_figure_draws_eval_loo_selective_answers(cli, tmp_path):
    """The figure's point at eval loo's default threshold is the coverage and error rate ``eval loo`` reports."""
    selective = interplay.evaluate_loo(method="graph")["selective"]
    fig = interplay.figure("risk-coverage")
    xs, ys = fig.axes[0].lines[0].get_data()
    at = [y for x, y in zip(xs, ys, strict=True) if x == pytest.approx(selective["coverage"])]
    assert at == [pytest.approx(1 - selective["accuracy"])]
    out = tmp_path / "rc.png"
    r = cli("export", "risk-coverage", "-o", str(out))
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.width >= 900 and len(im.getcolors(1 << 24)) > 50
