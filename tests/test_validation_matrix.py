"""The whole matrix in one run: the shared deployment cache gives the records one cell alone would, and
``validate --all`` writes one record per cell and resumes from the store."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from interplay.cli.app import app  # noqa: E402
from interplay.kb import load_kb  # noqa: E402
from interplay.validators import experiment, registry, settings  # noqa: E402
from interplay.validators.experiment import ValidationConfig, measure_seed  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402

KB = load_kb()
TINY = default_settings("synthetic", "tiny")
runner = CliRunner()


def test_shared_deployments_give_identical_records():
    cfg = ValidationConfig("group-fairness", "data-reconstruction", TINY, tuple(KB.defenses["group-fairness"].targets))
    plain = measure_seed(cfg, 1)
    with experiment.sharing_deployments() as cache:
        # the first cell trains both arms and measures the target (discrimination) on them; the second reuses all
        shared = [measure_seed(replace(cfg, risk="membership-inference"), 1), measure_seed(cfg, 1)]
    assert cache.hits >= 2 and cache.misses > 0 and len(cache.measurements) == 6
    for record in (plain, shared[1]):
        record.pop("runtime_s")
    assert shared[1] == plain


def _all(store, *extra):
    args = [
        "validate",
        "--all",
        "--quick",
        "--defenses",
        "DP,explanations,fingerprinting",
        "--risks",
        "data-reconstruction,distribution-inference",
        "--store",
        str(store),
        *extra,
    ]
    return runner.invoke(app, args)


def test_validate_all_writes_one_record_per_cell_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "default_settings", lambda dataset, preset="default": TINY)
    monkeypatch.setattr(experiment, "code_version", lambda: "test")  # sources edited meanwhile would change keys
    monkeypatch.delitem(registry.DEFENSES, "fingerprinting", raising=False)
    store = tmp_path / "all.sqlite"
    result = _all(store, "--seeds", "2", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [(r["defense"], r["risk"]) for r in records] == [
        (d, r)
        for d in ("fingerprinting", "differential-privacy", "explanations")
        for r in ("data-reconstruction", "distribution-inference")
    ]
    for r in records:
        obs = KB.observation(r["defense"], r["risk"])
        assert r["literature"] == (obs.direction if obs else "unexplored")
        if r["defense"] == "fingerprinting":
            assert r["verdict"] == "not registered" and r["observed"] is None and r["registered"] is False
        else:
            assert {
                "prediction",
                "observed",
                "verdict",
                "effect",
                "defense_effective",
                "seeds",
                "dataset",
                "runtime_s",
            } <= set(r) and r["seeds"] == 2

    calls = []
    real = experiment.measure_seed
    monkeypatch.setattr(experiment, "measure_seed", lambda c, s: calls.append((c.defense, c.risk, s)) or real(c, s))
    again = json.loads(_all(store, "--seeds", "2", "--json").stdout)
    assert calls == [] and [r.get("effect") for r in again] == [r.get("effect") for r in records]
    table = _all(store, "--seeds", "3")
    assert table.exit_code == 0, table.output
    assert sorted(calls) == sorted(
        (d, r, 2)
        for d in ("differential-privacy", "explanations")
        for r in ("data-reconstruction", "distribution-inference")
    )
    assert "not registered" in table.output and "4 cells validated" in " ".join(table.output.split())


def test_validate_all_rejects_a_pair(tmp_path):
    result = runner.invoke(app, ["validate", "--all", "dp", "evasion", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2 and "--all takes no DEFENSE" in " ".join(result.output.split())
    result = runner.invoke(app, ["validate", "dp", "--store", str(tmp_path / "s.sqlite")])
    assert result.exit_code == 2 and "or --all" in result.output


def test_validate_jobs_usage_errors(tmp_path):
    store = ["--store", str(tmp_path / "s.sqlite")]
    result = runner.invoke(app, ["validate", "--all", "--jobs", "2", *store])
    assert result.exit_code == 2 and "single cell" in " ".join(result.output.split())
    result = runner.invoke(app, ["validate", "dp", "evasion", "--jobs", "0", *store])
    assert result.exit_code == 2 and "at least 1" in result.output and "Traceback" not in result.output
