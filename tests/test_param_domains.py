"""Every plugin parameter has a domain (type, finite, bounds, choices) declared beside its default, and the same check
holds on every route: ``--param`` on the command line (exit 2, nothing stored), the API, ``Settings.with_params`` and
a plugin's own ``Params`` built from Python."""

from __future__ import annotations

import dataclasses
import json
import math
import typing

import pytest

pytest.importorskip("torch")

import interplay  # noqa: E402
from interplay.validators.data import DATASETS  # noqa: E402
from interplay.validators.params import ParamError, PluginParams, fields_of  # noqa: E402
from interplay.validators.registry import DEFENSES, RISKS  # noqa: E402
from interplay.validators.settings import PRESETS, default_settings  # noqa: E402

PLUGINS = {**DEFENSES, **RISKS}
BUILTIN = {s: c for s, c in PLUGINS.items() if c.__module__.startswith("interplay.")}


def numeric_fields() -> list[tuple[str, dataclasses.Field, type]]:
    """(slug, field, element type) of every int or float parameter (a tuple's elements included)."""
    out = []
    for slug, cls in sorted(PLUGINS.items()):
        hints = typing.get_type_hints(cls.Params)
        for f in fields_of(cls.Params):
            tp = hints[f.name]
            tp = typing.get_args(tp)[0] if typing.get_origin(tp) is tuple else tp
            if tp in (int, float):
                out.append((slug, f, tp))
    return out


NUMERIC = numeric_fields()
IDS = [f"{slug}.{f.name}" for slug, f, _ in NUMERIC]


def test_every_numeric_parameter_declares_its_bounds():
    assert len(NUMERIC) >= 40, "every plugin's numeric parameters"
    for slug, f, tp in NUMERIC:
        bounds = f.metadata["bounds"]
        assert {"ge", "gt"} & set(bounds), f"{slug}.{f.name} declares no lower bound"
        if tp is int:
            assert {"le", "lt"} & set(bounds), f"{slug}.{f.name}: a count needs an upper bound"
        assert all(math.isfinite(b) for b in bounds.values())


def test_every_builtin_params_checks_itself_when_built():
    for slug, cls in BUILTIN.items():
        assert issubclass(cls.Params, PluginParams), slug


def test_every_default_lies_in_its_domain_under_every_dataset_and_preset():
    for dataset in DATASETS:
        if dataset not in ("synthetic", "digits", "adult"):
            continue
        for preset in PRESETS:
            s = default_settings(dataset, preset)
            for cls in PLUGINS.values():
                s.params_for(cls)  # raises ParamError if a (per-dataset) default left its domain


def outside(f: dataclasses.Field, tp: type) -> list:
    """Values just outside ``f``'s bounds, plus NaN and infinities for a float."""
    b, out = f.metadata["bounds"], []
    step = 1 if tp is int else 1e-9
    if "ge" in b:
        out.append(tp(b["ge"] - step) if tp is int else b["ge"] - max(step, abs(b["ge"]) * 1e-9))
    if "gt" in b:
        out.append(tp(b["gt"]))
    if "le" in b:
        out.append(tp(b["le"] + step) if tp is int else b["le"] * (1 + 1e-9) + step)
    if "lt" in b:
        out.append(tp(b["lt"]))
    return out + ([math.nan, math.inf, -math.inf] if tp is float else [])


def _value(f: dataclasses.Field, v):
    """``v`` in the shape of parameter ``f`` (a tuple parameter gets ``v`` as its first element)."""
    return (v, *f.default[1:]) if isinstance(f.default, tuple) else v


@pytest.mark.parametrize("slug,f,tp", NUMERIC, ids=IDS)
def test_a_value_outside_the_domain_is_refused_on_every_route(slug, f, tp):
    cls = PLUGINS[slug]
    for v in outside(f, tp):
        value = _value(f, v)
        with pytest.raises(ParamError, match=rf"{cls.Params.__name__}\.{f.name}: .* (finite|outside the domain)"):
            cls.Params(**{f.name: value})
        s = default_settings("synthetic", "tiny").with_params(slug, **{f.name: value})
        with pytest.raises(ParamError, match=rf"^{slug}\.{f.name}: "):
            s.params_for(cls)
        text = ",".join(map(repr, value)) if isinstance(value, tuple) else repr(v)
        with pytest.raises(ParamError, match=rf"^--param {slug}\.{f.name}: "):
            interplay.settings(params={f"{slug}.{f.name}": text})
    edge = {k: v for k, v in f.metadata["bounds"].items() if k in ("ge", "le")}
    for bound in edge.values():  # an inclusive bound is in the domain
        cls.Params(**{f.name: _value(f, tp(bound))})


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"eps": "0.1"}, "eps: '0.1' is not a valid float"),
        ({"pgd_steps": True}, "pgd_steps: True is not a valid int"),
        ({"pgd_steps": 2.5}, "pgd_steps: 2.5 is not a valid int"),
        ({"eps": None}, "eps: None is not a valid float"),
        ({"eps": 1}, None),  # an int for a float is fine
    ],
)
def test_a_plugins_own_params_check_types(kwargs, fragment):
    from interplay.validators.defenses.adversarial_training import AdversarialTrainingParams

    if fragment is None:
        assert AdversarialTrainingParams(**kwargs).eps == 1
        return
    with pytest.raises(ParamError, match=f"AdversarialTrainingParams.{fragment}"):
        AdversarialTrainingParams(**kwargs)


def test_a_fixed_length_tuple_needs_its_length():
    from interplay.validators.risks.distribution_inference import DistributionInferenceParams

    for bad in [(0.5,), (0.5, 0.2, 0.1), [0.5, 0.2]]:
        with pytest.raises(ParamError, match="ratios: .* is not a valid tuple"):
            DistributionInferenceParams(ratios=bad)
    with pytest.raises(ParamError, match="not a valid tuple"):
        interplay.settings(params={"distribution-inference.ratios": "0.5"})
    assert interplay.settings(params={"distribution-inference.ratios": "0.5,0.3"}).overrides


@pytest.mark.parametrize(
    "assignment,message",
    [
        ("adversarial-training.eps=nan", "--param adversarial-training.eps: nan is not a finite number"),
        ("adversarial-training.eps=inf", "--param adversarial-training.eps: inf is not a finite number"),
        ("adversarial-training.eps=-1", "--param adversarial-training.eps: -1.0 is outside the domain > 0 and <= 1"),
        ("adversarial-training.eps=1e308", "adversarial-training.eps: 1e+308 is outside the domain > 0 and <= 1"),
        ("adversarial-training.pgd_steps=-5", "pgd_steps: -5 is outside the domain >= 1 and <= 100"),
        ("adversarial-training.pgd_steps=100000000", "pgd_steps: 100000000 is outside the domain >= 1 and <= 100"),
        ("adversarial-training.pgd_steps=2.5", "pgd_steps: '2.5' is not a valid int"),
        ("quantization.bits=1", "quantization.bits: 1 is outside the domain >= 2 and <= 16"),
        ("differential-privacy.delta=1", "delta: 1.0 is outside the domain > 0 and < 1"),
    ],
)  # fmt: skip
def test_cli_refuses_a_value_outside_the_domain_before_anything_is_stored(cli, tmp_path, assignment, message):
    store = tmp_path / "s.sqlite"
    r = cli("validate", "AT", "evasion", "--preset", "tiny", "--store", store, "--param", assignment, "--json")
    assert r.exit_code == 2, r.output
    error = json.loads(r.stdout)["error"]
    assert error["kind"] == "ParamError" and message in error["message"]
    assert not store.exists()


def test_plugins_shows_every_domain(cli):
    rows = {p["slug"]: p for p in json.loads(cli("plugins", "--json").stdout)}
    for slug, f, _ in NUMERIC:
        (row,) = [q for q in rows[slug]["params"] if q["name"] == f.name]
        assert row["domain"] and row["domain"][0] in "<>", (slug, f.name, row)
    at = {q["name"]: q for q in rows["adversarial-training"]["params"]}
    assert at["eps"]["domain"] == "> 0 and <= 1" and at["pgd_steps"]["domain"] == ">= 1 and <= 100"
    r = cli("plugins")
    assert r.exit_code == 0 and "domain" in r.output and "int >= 1" in r.output  # the table wraps at 80 columns
