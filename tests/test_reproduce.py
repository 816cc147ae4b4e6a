"""The SoK's Sec. 5 validations in quick form (Adult from ../shared/data/adult when present)."""

import json

import pytest

from interplay.validators.data import default_adult_dir
from interplay.validators.reproduce import PAPER_51, PAPER_52

needs_adult = pytest.mark.skipif(not (default_adult_dir() / "adult.data").exists(), reason="UCI Adult not present")


@needs_adult
def test_sok_51_quick(cli, tmp_path):
    r = cli("reproduce", "sok-5.1", "--quick", "--store", tmp_path / "s.sqlite", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["defense"], doc["risk"], doc["prediction"]) == ("group-fairness", "data-reconstruction", "decrease")
    (row,) = doc["rows"]
    assert row["setting"] == "k=10" and row["paper"] == PAPER_51[10]
    assert {"mse_held_out", "mse_members"} <= set(row["raw"]["baseline"])
    assert row["observed"] in {"increase", "decrease", "none"} and row["verdict"] in {
        "confirmed",
        "refuted",
        "inconclusive",
    }
    assert 0.5 < row["utility"]["baseline"] < 1 and 0.5 < row["utility"]["defended"] < 1


@needs_adult
def test_sok_52_quick(cli, tmp_path):
    r = cli("reproduce", "sok-5.2", "--quick", "--store", tmp_path / "s.sqlite", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    (row,) = doc["rows"]
    assert row["paper_attack_accuracy"] == PAPER_52["integrated-gradients"][0] / 100
    assert 0 <= row["effect"]["baseline"] <= 1 and 0 <= row["effect"]["defended"] <= 1


def test_reproduce_bad_input(cli, tmp_path, monkeypatch):
    assert cli("reproduce", "sok-9").exit_code == 2
    monkeypatch.setenv("INTERPLAY_ADULT_DIR", str(tmp_path))
    r = cli("reproduce", "sok-5.1", "--quick", "--store", tmp_path / "s.sqlite")
    assert r.exit_code == 2 and "adult.data" in r.output and "Traceback" not in r.output
