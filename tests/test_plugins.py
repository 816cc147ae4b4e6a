"""Plugins: the registry contract over every registered defense x risk, plugin parameters (``--param``, presets,
the configuration hash), ``interplay plugins``, and a third-party plugin installed through the entry-point group."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import interplay  # noqa: E402
from interplay.results import Validation, plain  # noqa: E402
from interplay.validators import experiment  # noqa: E402
from interplay.validators.experiment import ValidationConfig  # noqa: E402
from interplay.validators.registry import DEFENSES, RISKS  # noqa: E402
from interplay.validators.settings import default_settings  # noqa: E402

EXAMPLE = Path(__file__).parent / "example_plugin"
TINY = default_settings("synthetic", "tiny")


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    """Every registered defense x every registered risk at the tiny preset (the registry decides the pairs)."""
    assert len(DEFENSES) > 0 and len(RISKS) > 0, "an empty registry validates nothing"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return interplay.validate_matrix(
            defenses=list(DEFENSES),
            risks=list(RISKS),
            preset="tiny",
            store=tmp_path_factory.mktemp("contract") / "s.sqlite",
            setting="generic",
        )


def test_every_registered_pair_returns_a_well_formed_result(kb, contract):
    assert len(DEFENSES) > 0 and len(RISKS) > 0
    assert {(c.defense, c.risk) for c in contract.cells} == {(d, r) for d in DEFENSES for r in RISKS}
    for c in contract.cells:
        doc = c.to_dict()
        assert Validation.from_dict(doc).to_dict() == doc
        assert c.literature == (
            kb.observation(c.defense, c.risk).direction if kb.observation(c.defense, c.risk) else "unexplored"
        )
        if c.verdict == "unsupported":  # a probe that cannot run on this task says why
            assert doc["reason"] and c.observed is None
            continue
        assert c.verdict in ("confirmed", "refuted", "inconclusive", "not-applicable")
        assert c.observed in ("increase", "decrease", "none")
        assert c.seeds == 2 and c.dataset == "synthetic" and c.prediction in interplay.Direction.__members__
        e = c.effect
        assert e.metric == RISKS[c.risk].metric
        scale = RISKS[c.risk].scale_of()
        band = [max(0.01, 0.1 * max(0.0, e.baseline - scale.chance)), max(0.01, 0.1 * (scale.ceiling - e.baseline))]
        assert doc["effect"]["min_effect_band"] == pytest.approx(band)
        assert e.min_effect == pytest.approx(band[0] if e.difference < 0 else band[1])
        assert doc["effect"]["evidence"] in ("significant", "small", "equivalent", "underpowered")
        assert "q_value" in doc["effect"]
        assert doc["effect"]["q_value"] >= e.p_value and doc["applicable"] in (True, False)
        assert e.ci95[0] <= e.difference <= e.ci95[1] and 0 <= e.p_value <= 1
        assert e.difference == pytest.approx(e.defended - e.baseline)
        assert 0 <= doc["utility"]["baseline"] <= 1 and 0 <= doc["utility"]["defended"] <= 1
        judged = (
            {t for t in kb.defenses[c.defense].targets if t in RISKS} if DEFENSES[c.defense].lowers_targets else set()
        )
        assert set(doc["effectiveness"]) == judged
        assert (c.defense_effective is None) == (not judged)
        for slug in (c.defense, c.risk):
            plugin = DEFENSES[slug] if slug in DEFENSES else RISKS[slug]
            assert doc["params"][slug] == plain(asdict(TINY.params_for(plugin)))


def test_a_param_changes_the_result_and_the_configuration_hash(tmp_path):
    store = tmp_path / "s.sqlite"
    plain = interplay.validate("AT", "evasion", preset="tiny", store=store, jobs=1)
    weak = interplay.validate(
        "AT", "evasion", preset="tiny", store=store, jobs=1, params={"adversarial-training.eps": 0.05}
    )
    assert plain.doc["params"]["adversarial-training"]["eps"] == 0.25
    assert weak.doc["params"]["adversarial-training"]["eps"] == 0.05
    assert weak.doc["config_hash"] != plain.doc["config_hash"]
    assert weak.effect.defended != plain.effect.defended
    base = [v.doc["raw"]["baseline"]["robust_accuracy"] for v in (plain, weak)]
    assert base[0] == base[1]  # the same baseline model (its attacked set depends on both arms)
    again = interplay.validate("AT", "evasion", preset="tiny", store=store, jobs=1, params=["AT.eps=0.05"])
    assert again.doc["config_hash"] == weak.doc["config_hash"]  # a KB alias names the same plugin


def test_the_plugin_source_enters_the_configuration_hash(monkeypatch):
    cfg = ValidationConfig("group-fairness", "discrimination", TINY, ("discrimination",))
    assert set(cfg.as_dict()["plugin_versions"]) == {"group-fairness", "discrimination"}
    before = cfg.hash()
    monkeypatch.setattr(experiment, "source_digest", lambda cls: "edited")
    assert cfg.hash() != before


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--param", "adversarial-training.epsilon=0.1"], "valid parameters: eps, pgd_steps"),
        (["--param", "adversarial-training.eps=wide"], "not a valid float"),
        (["--param", "nobody.eps=0.1"], "no plugin 'nobody'"),
        (["--param", "eps=0.1"], "PLUGIN.KEY=VALUE"),
        (["--param", "model-ownership.theft=copying"], "any, extraction, fine-tuning"),
        (["--preset", "huge"], "default, quick, tiny"),
        (["--quick", "--preset", "default"], "contradicts"),
    ],
)
def test_bad_params_and_presets_exit_2_with_the_valid_names(cli, tmp_path, args, fragment):
    r = cli("validate", "AT", "evasion", "--store", tmp_path / "s.sqlite", *args)
    assert r.exit_code == 2 and fragment in " ".join(r.output.split()) and "Traceback" not in r.output


def test_quick_is_the_quick_preset():
    cfg = [
        ValidationConfig("group-fairness", "discrimination", interplay.settings(preset=p), ())
        for p in ("quick", "quick")
    ]
    assert (
        cfg[0].hash()
        == cfg[1].hash()
        != ValidationConfig("group-fairness", "discrimination", interplay.settings(), ()).hash()
    )


def test_plugins_command_lists_every_plugin_with_its_parameters(cli):
    r = cli("plugins", "--json")
    assert r.exit_code == 0, r.output
    rows = {p["slug"]: p for p in json.loads(r.stdout)}
    assert set(rows) == set(DEFENSES) | set(RISKS)
    at = {q["name"]: q for q in rows["adversarial-training"]["params"]}
    assert (
        at["eps"]["default"] == 0.25
        and at["eps"]["doc"]
        and rows["adversarial-training"]["dataset_defaults"]["digits"]["eps"] == 0.1
    )
    theft = {q["name"]: q for q in rows["model-ownership"]["params"]}["theft"]
    assert theft["context"] == "theft" and theft["choices"] == ["any", "extraction", "fine-tuning"]
    assert rows["evasion"]["metric"] == "attack_success_rate"
    assert cli("plugins").exit_code == 0


# --- a third-party plugin, installed as pip would install tests/example_plugin ------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example plugin's package and a dist-info declaring its entry point, on a folder put on PYTHONPATH."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLE / "interplay_example", site / "interplay_example")
    info = site / "interplay_example-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: interplay-example\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[interplay.plugins]\nexample = interplay_example\n")
    return site


def run(site: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "interplay.cli", *map(str, args)], capture_output=True, text=True, env=env, timeout=600
    )


def test_a_third_party_plugin_works_with_every_command(site, tmp_path):
    store = tmp_path / "s.sqlite"
    listed = run(site, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    noise = next(p for p in json.loads(listed.stdout) if p["slug"] == "example-gaussian-noise")
    assert noise["module"] == "interplay_example.defense" and noise["params"][0]["name"] == "sigma"
    predicted = run(site, "predict", "noise training", "MIA", "--json")  # an alias from the plugin's KB overlay
    assert predicted.returncode == 0 and json.loads(predicted.stdout)["defense"] == "example-gaussian-noise"
    one = run(
        site,
        "validate",
        "example-gaussian-noise",
        "evasion",
        "--preset",
        "tiny",
        "--jobs",
        "1",
        "--param",
        "example-gaussian-noise.sigma=0.5",
        "--model",
        "example-mlp",  # the plugin's model factory (MODELS)
        "--json",
        "--store",
        store,
    )
    assert one.returncode == 0, one.stderr
    doc = json.loads(one.stdout)
    assert doc["params"]["example-gaussian-noise"] == {"sigma": 0.5} and doc["metadata"]["noise_sigma"] == 0.5
    assert doc["settings"]["train"]["capacity"].startswith("example-mlp@")
    assert set(doc["effectiveness"]) == {"evasion"}
    matrix = run(
        site,
        "validate",
        "--all",
        "--defenses",
        "example-gaussian-noise",
        "--risks",
        "evasion,MIA",
        "--preset",
        "tiny",
        "--json",
        "--store",
        store,
    )
    assert matrix.returncode == 0, matrix.stderr
    assert [(r["defense"], r["risk"]) for r in json.loads(matrix.stdout)] == [
        ("example-gaussian-noise", "evasion"),
        ("example-gaussian-noise", "membership-inference"),
    ]
    status = run(site, "status", "--json", "--store", store)
    cells = {(r["defense"], r["risk"]): r for r in json.loads(status.stdout)}
    assert cells["example-gaussian-noise", "membership-inference"]["verdict"] in (
        "confirmed",
        "refuted",
        "inconclusive",
    )
    out = tmp_path / "kb.json"
    exported = run(
        site, "export", "json", "-o", out, "--include", "observations,predictions,validations", "--store", store
    )
    assert exported.returncode == 0, exported.stderr
    assert "example-gaussian-noise" in out.read_text() and "bishop1995training" in out.read_text()


def test_without_the_plugin_its_names_are_unknown(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "interplay.cli", "predict", "example-gaussian-noise", "MIA"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "unknown defense" in r.stderr
