"""Numbers for people: the HTML report, its plots and the LaTeX export show p-values to two significant digits
and effects/scores to three decimals; JSON and CSV keep full precision."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from validation_store import run_record, summary

from interplay.export import build_export_model, export, render_text
from interplay.export.graph_formats import csv_tables
from interplay.export.numbers import decimal, p_value
from interplay.export.report import write_report
from interplay.interactions.validated import load_validations
from interplay.validators.store import ResultStore

CELL = ("differential-privacy", "membership-inference")
P = 0.0123456789
EFFECT = {"baseline": 0.6123456789, "defended": 0.6935802468, "difference": 0.0812345679,
          "ci95": [0.0512345678, 0.1112345678], "p_value": P, "min_effect": 0.02}  # fmt: skip


@pytest.fixture(scope="module")
def layer(kb, tmp_path_factory):
    path = tmp_path_factory.mktemp("numbers") / "results.sqlite"
    store = ResultStore(path)
    doc = summary(kb, *CELL, "confirmed", 3, "cfg-numbers")
    doc["effect"].update(EFFECT, metric="auc")
    config = {"defense": CELL[0], "risk": CELL[1], "settings": doc["settings"], "code_version": "test"}
    store.save_validation("cfg-numbers", config, doc)
    for seed in range(3):
        b = EFFECT["baseline"] + 0.0123456789 * seed
        store.save_run("cfg-numbers", seed, run_record(CELL[1], seed, b, b + EFFECT["difference"]))
    return load_validations(path)


@pytest.mark.parametrize(
    "value, expected",
    [(P, "0.012"), (0.0031, "0.0031"), (4.2e-09, "4.2e-09"), (0.4, "0.4"), (1, "1"), ("?", "?"), (None, "None")],
)
def test_p_value_has_two_significant_digits(value, expected):
    assert p_value(value) == expected


@pytest.mark.parametrize(
    "value, signed, expected",
    [(0.0812345679, True, "+0.081"), (-0.0812345679, True, "-0.081"), (0.6123456789, False, "0.612"),
     (-0.0004, True, "+0.000"), (2, False, "2.000"), ("?", True, "?"), (True, False, "True")],
)  # fmt: skip
def test_decimal_has_three_decimals(value, signed, expected):
    assert decimal(value, signed) == expected


def test_report_shows_numbers_for_people(kb, layer, tmp_path):
    html = write_report(kb, tmp_path / "r.html", validations=layer).read_text()
    assert "p = 0.012," in html and "0.0123456789" not in html and "0.01234" not in html
    assert "0.612 → 0.694, difference +0.081, 95% CI [+0.051, +0.111]" in html
    assert "minimum effect 0.020" in html
    assert "defended minus baseline +0.081, 95% CI [+0.051, +0.111]" in html, "the effect plot's label"
    assert "seed 0: 0.612 -&gt; 0.694" in html, "the per-seed plot's tooltips"
    assert not re.findall(r"\d\.\d{4,}", html), "no long number anywhere on the page"
    confidences = re.findall(r"confidence (\d\.\d+)\)", html)
    assert confidences and all(len(c) == 5 for c in confidences), "confidences to three decimals"


def test_latex_rounds_and_data_formats_keep_full_precision(kb, layer, tmp_path):
    model = build_export_model(kb, include="observations,predictions,validations", validations=layer)
    tex = render_text(model, "latex")
    shown = re.findall(r", (\d\.\d+) & ", tex)
    assert shown and all(len(x) == 5 for x in shown), "confidences to three decimals in the explanations"
    assert not re.findall(r"\d\.\d{4,}", tex)

    export(kb, "json", tmp_path / "x.json", include="observations,predictions,validations", validations=layer)
    doc = json.loads((tmp_path / "x.json").read_text())
    cell = next(c for c in doc["cells"] if (c["defense"], c["risk"]) == CELL)
    assert cell["experiment"]["effect"]["p_value"] == P
    assert cell["experiment"]["effect"]["difference"] == EFFECT["difference"]
    weights = {e.id: e.weight for e in model.edges}
    assert {d["id"]: d["weight"] for d in doc["graph"]["links"]} == weights, "edge weights unrounded"

    rows = list(csv.DictReader(io.StringIO(csv_tables(model)["predictions"], newline="")))
    conf = {(c.defense, c.risk): c.prediction.confidence for c in model.cells if c.prediction}
    assert all(float(r["confidence"]) == conf[r["defense"], r["risk"]] for r in rows), "CSV keeps full precision"
