"""The user's own data and model: tabular files, arrays, model specs and factories (docs/your-data.md)."""

import json
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from torch import nn

import interplay
from interplay import api
from interplay.api.runs import _workers
from interplay.dataset import Dataset
from interplay.validators import data, experiment, models, user_data
from interplay.validators.experiment import ValidationConfig
from interplay.validators.models import ModelError, build_model, model_spec
from interplay.validators.regimes import USER_EPOCHS, apply_regime
from interplay.validators.settings import load_task


def breast_cancer() -> pd.DataFrame:
    """scikit-learn's breast cancer data (binary) with a derived binary sensitive column and one missing value."""
    df = load_breast_cancer(as_frame=True).frame
    df["size"] = np.where(df["mean radius"] > df["mean radius"].quantile(0.7), "large", "small")
    df.loc[3, "mean texture"] = np.nan
    return df


@pytest.fixture(scope="module")
def bc_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "bc.csv"
    breast_cancer().to_csv(path, index=False)
    return path


def narrow_mlp(input_shape, n_classes):
    return nn.Sequential(nn.Linear(input_shape[0], 16), nn.ReLU(), nn.Linear(16, n_classes))


def wide_mlp(input_shape, n_classes):
    return nn.Sequential(nn.Linear(input_shape[0], 48), nn.Tanh(), nn.Linear(48, n_classes))


def test_a_csv_validates_and_a_changed_cell_rekeys_the_store(cli, tmp_path, monkeypatch):
    df = breast_cancer()
    csv, store = tmp_path / "bc.csv", tmp_path / "s.sqlite"
    df.to_csv(csv, index=False)
    args = ["validate", "group-fairness", "discrimination", "--dataset", f"csv:{csv}", "--label", "target"]
    args += ["--sensitive", "size", "--preset", "tiny", "--jobs", "1", "--model", "mlp:64", "--json", "--store", store]
    first = cli(*args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert (
        doc["dataset"] == "csv:bc.csv"
        and doc["seeds"] == 2
        and doc["verdict"] in ("confirmed", "refuted", "inconclusive")
    )
    info = doc["data"]
    assert info["rows"] == 569 and info["label"] == {"column": "target", "classes": ["0", "1"]}
    assert info["sensitive"]["s1"] == "large" and info["sensitive"]["s1_rows"] == (df["size"] == "large").sum()
    assert info["missing"]["cells"] == 1 and info["missing"]["by_column"] == {"mean texture": 1}
    assert info["splits"] == {"train": 189, "test": 189, "aux": 189}  # a third of the rows at most, each
    assert doc["settings"]["train"]["capacity"] == "mlp:64" and "path" not in doc["settings"]["source"]
    task = load_task(api.settings(f"csv:{csv}", "tiny", label="target", sensitive="size"), 0)
    assert [tuple(p.shape) for p in build_model(task.input_shape, 2, "mlp:64").parameters()] == [
        (64, 30), (64,), (2, 64), (2,)
    ]  # fmt: skip
    assert task.train.x[:, :30].mean(0).abs().max() < 1e-5  # standardized on the training split

    measured = []
    real = experiment.measure_seed
    monkeypatch.setattr(experiment, "measure_seed", lambda cfg, seed: measured.append(seed) or real(cfg, seed))
    again = json.loads(cli(*args).stdout)
    assert again["config_hash"] == doc["config_hash"] and measured == []  # served from the store

    df.loc[10, "mean area"] += 1.0  # one cell
    df.to_csv(csv, index=False)
    changed = cli(*args)
    assert changed.exit_code == 0, changed.output
    rekeyed = json.loads(changed.stdout)
    assert rekeyed["config_hash"] != doc["config_hash"] and rekeyed["data"]["sha256"] != info["sha256"]
    assert measured == [0, 1]  # nothing served from the store


def test_an_npz_of_sklearn_digits_gives_the_builtin_digits_task(tmp_path):
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    ink = x.sum(1)
    arrays = (x.reshape(-1, 1, 8, 8), d.target, (ink > np.median(ink)).astype(np.int64))
    ds = Dataset.from_arrays(*arrays, name="digits", directory=tmp_path)
    assert ds.startswith("npz:") and Dataset.from_arrays(*arrays, name="digits", directory=tmp_path) == ds
    s = api.settings(ds, "tiny", n_train=300)
    for seed in (0, 1):
        mine, builtin = load_task(s, seed), data.digits(300, seed)
        for part in ("train", "test", "aux"):
            for field in ("x", "y", "s"):
                assert torch.equal(getattr(getattr(mine, part), field), getattr(getattr(builtin, part), field))
        assert (mine.n_classes, mine.input_shape, mine.bounds) == (10, (1, 8, 8), (0.0, 1.0))
    assert mine.name == "npz:digits.npz" and mine.info["splits"] == {"train": 300, "test": 300, "aux": 300}


def test_a_table_is_encoded_with_statistics_of_the_training_split_only(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"id": range(n), "age": rng.normal(40, 10, n), "job": rng.choice(["a", "b", "c"], n),
                       "sex": rng.choice(["F", "M"], n, p=[0.3, 0.7]), "y": rng.choice(["no", "yes"], n)})  # fmt: skip
    df.loc[[3, 7], "age"], df.loc[5, "job"], df.loc[9, "y"] = np.nan, np.nan, np.nan
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    source = user_data.parse_source(f"csv:{path}", label="y", sensitive="sex", drop=("id",))
    task = user_data.load(source, 39, seed=4)
    info = task.info
    assert info["rows"] == 119 and info["rows_dropped"] == {"missing_label": 1, "missing_sensitive": 0}
    assert info["missing"]["by_column"] == {"age": 2, "job": 1} and info["inputs"]["features"] == 4
    assert info["sensitive"]["s1"] == "F" and info["label"]["classes"] == ["no", "yes"]
    assert task.input_shape == (4,) and len(task.train) == len(task.test) == len(task.aux) == 39
    assert abs(float(task.train.x[:, 0].mean())) < 1e-5 and abs(float(task.test.x[:, 0].mean())) > 1e-3
    assert set(task.train.x[:, 1:].unique().tolist()) <= {0.0, 1.0}  # one-hot, one column per job
    assert torch.equal(task.train.y, user_data.load(source, 39, seed=4).train.y)  # deterministic per seed


def _write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_INPUTS = {
    "missing file": (lambda t: ["csv:" + str(t / "absent.csv"), "--label", "y"], "no such file"),
    "missing column": (
        lambda t: ["csv:" + _write(t, "a.csv", "a,y\n1,0\n"), "--label", "Y"],
        "has no column 'Y'; did you mean 'y'?",
    ),
    "no label": (lambda t: ["csv:" + _write(t, "a.csv", "a,y\n1,0\n")], "give the column to predict with --label COL"),
    "one class": (lambda t: ["csv:" + _write(t, "a.csv", "a,y\n" + "1,0\n" * 40), "--label", "y"], "has one class (0)"),
    "non-binary sensitive": (
        lambda t: [
            "csv:" + _write(t, "a.csv", "a,g,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(60))),
            "--label",
            "y",
            "--sensitive",
            "g",
        ],
        "the sensitive attribute must be binary; column 'g' has 3 distinct value(s)",
    ),  # fmt: skip
    "empty file": (lambda t: ["csv:" + _write(t, "a.csv", ""), "--label", "y"], "is empty"),
    "header only": (lambda t: ["csv:" + _write(t, "a.csv", "a,y\n"), "--label", "y"], "has a header but no rows"),
    "unparseable row": (
        lambda t: ["csv:" + _write(t, "a.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,0,7\n"), "--label", "y"],
        "cannot parse the CSV: Expected 3 fields in line 4, saw 4",
    ),
    "text in a number column": (
        lambda t: ["csv:" + _write(t, "a.csv", "a,y\n1,0\n2,1\nabc,0\n4,1\n"), "--label", "y"],
        "line 4: column 'a' holds 'abc', which is not a number",
    ),
    "too few rows for n_train": (
        lambda t: [
            "csv:" + _write(t, "a.csv", "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(60))),
            "--label",
            "y",
            "--n-train",
            "59",
        ],
        "the dataset has 60 rows, too few for a training set of 59",
    ),  # fmt: skip
    "npz without y": (lambda t: ["npz:" + _npz_without_y(t)], "needs arrays x and y"),
    "columns of a built-in dataset": (lambda t: ["digits", "--label", "y"], "column choices of a user's table"),
    "unknown model": (lambda t: ["synthetic", "--model", "resnet"], "unknown model 'resnet'"),
    "cnn on a table": (lambda t: ["synthetic", "--model", "cnn"], "cnn needs images"),
}


def _npz_without_y(tmp_path) -> str:
    path = tmp_path / "x.npz"
    np.savez(path, x=np.zeros((40, 3)))
    return str(path)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_the_reason(cli, tmp_path, case):
    dataset, fragment = BAD_INPUTS[case]
    given = dataset(tmp_path)
    r = cli("validate", "DP", "MIA", "--preset", "tiny", "--store", tmp_path / "s.sqlite", "--dataset", *given)
    assert r.exit_code == 2, r.output
    assert fragment in " ".join(r.stderr.split()) and "Traceback" not in r.output
    assert not (tmp_path / "s.sqlite").exists()


def test_parquet_without_pyarrow_exits_2_saying_so(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(user_data, "PARQUET_ENGINES", ("an_engine_that_is_not_installed",))
    path = _write(tmp_path, "a.parquet", "not parquet")
    r = cli("validate", "DP", "MIA", "--dataset", f"parquet:{path}", "--label", "y")
    assert r.exit_code == 2 and "needs pyarrow" in r.stderr


def test_probes_that_need_a_sensitive_attribute_say_so_before_any_training(cli, bc_csv, tmp_path, monkeypatch):
    from interplay.validators.defenses.base import DefensePlugin

    monkeypatch.setattr(DefensePlugin, "deploy", lambda *a: pytest.fail("trained a model"))
    data_args = ["--dataset", f"csv:{bc_csv}", "--label", "target", "--preset", "tiny", "--store", tmp_path / "s"]
    risks = "discrimination,attribute-inference,distribution-inference"
    m = cli("validate", "--all", "--defenses", "DP", "--risks", risks, *data_args, "--json")
    assert m.exit_code == 0, m.output
    records = json.loads(m.stdout)
    assert [r["verdict"] for r in records] == ["unsupported"] * 3
    assert all("needs a sensitive attribute (--sensitive COL)" in r["reason"] for r in records)
    one = cli("validate", "DP", "discrimination", *data_args)
    assert one.exit_code == 2 and "groups needs a sensitive attribute (--sensitive COL)" in one.stderr
    fair = cli("validate", "group-fairness", "evasion", *data_args)  # a defense's needs too
    assert fair.exit_code == 2 and "group-fairness needs a sensitive attribute" in fair.stderr


def test_a_model_factory_trains_and_its_source_keys_the_configuration(tmp_path):
    ds = Dataset.from_pandas(breast_cancer(), label="target", sensitive="size", drop=["worst area"], directory=tmp_path)
    assert ds.label == "target" and ds.startswith("csv:")
    v = interplay.validate(
        "outlier-removal", "discrimination", dataset=ds, preset="tiny", jobs=1, model=narrow_mlp,
        store=tmp_path / "s.sqlite", setting="generic",
    )  # fmt: skip
    doc = v.to_dict()
    assert doc["settings"]["train"]["capacity"] == f"narrow_mlp@{models.factory_digest(narrow_mlp)}"
    assert doc["data"]["inputs"]["dropped"] == [] and doc["data"]["inputs"]["features"] == 29  # dropped when written
    assert v.verdict in ("confirmed", "refuted", "inconclusive", "not-applicable")
    in_workers = interplay.validate(
        "outlier-removal", "discrimination", dataset=ds, preset="tiny", jobs=2, model=narrow_mlp,
        store=tmp_path / "other.sqlite", setting="generic",
    )  # fmt: skip
    assert in_workers.to_dict()["effect"] == doc["effect"]  # spawned workers rebuilt the factory's model

    def config(model):
        s = api.settings(ds, "tiny", label="target", sensitive="size", model=model)
        return ValidationConfig("outlier-removal", "discrimination", s).hash()

    assert config(narrow_mlp) == config(narrow_mlp) != config(wide_mlp) != config("medium")
    assert models.factory_digest(narrow_mlp) != models.factory_digest(wide_mlp)


def test_a_factory_a_worker_process_cannot_import_runs_in_one_process_with_a_warning(bc_csv):
    def local(input_shape, n_classes):
        return nn.Linear(input_shape[0], n_classes)

    s = api.settings(f"csv:{bc_csv}", "tiny", label="target", model=local)
    with pytest.warns(UserWarning, match="defined inside a function"):
        assert _workers(2, s) == 1
    importable = api.settings(f"csv:{bc_csv}", "tiny", label="target", model=narrow_mlp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _workers(2, importable) == 2
    assert importable.train.capacity in models.shipment()  # sent to the workers (pickled by reference)
    assert s.train.capacity not in models.shipment()


def test_model_specs_presets_and_plugin_models(monkeypatch):
    assert model_spec("mlp:256, 128") == "mlp:256,128" and model_spec("cnn") == "cnn:16,32"
    assert model_spec("large") == "large" and model_spec("mlp") == "mlp:128,64"
    cnn = build_model((3, 16, 16), 5, "cnn:4,8")
    assert cnn[0].in_channels == 3 and cnn[-1].in_features == 8 * 4 * 4
    digits_cnn = build_model((1, 8, 8), 10, "medium")  # the preset on images: the digits CNN, as before
    assert [tuple(p.shape) for p in digits_cnn.parameters()][-2] == (10, 32 * 4)
    for bad in ("mlp:0", "mlp:a,b", "cnn:1,2,3", "transformer"):
        with pytest.raises(ModelError):
            model_spec(bad)
    plugin = types.SimpleNamespace(MODELS={"tiny-net": wide_mlp})
    monkeypatch.setattr(interplay.extensions, "_loaded", lambda: (("fake", plugin),))
    spec = model_spec("tiny-net")
    assert spec == f"tiny-net@{models.factory_digest(wide_mlp)}"
    assert isinstance(build_model((7,), 3, spec)[1], nn.Tanh)
    with pytest.raises(ModelError, match="tiny-net"):
        model_spec("tiny-nt")


def test_the_privacy_regime_keeps_a_users_model(bc_csv):
    s = api.settings(f"csv:{bc_csv}", "tiny", label="target", model="mlp:64")
    chosen, record = apply_regime(s, "privacy", lambda name, trial, seed: 0.5)  # never memorizes: the last value
    assert chosen.train.capacity == "mlp:64" and chosen.train.epochs == USER_EPOCHS[-1]
    assert [w["value"][0] for w in record["walked"]] == ["mlp:64"] * len(USER_EPOCHS)
    preset, _ = apply_regime(api.settings("synthetic", "tiny"), "privacy", lambda name, trial, seed: 1.0)
    assert preset.train.capacity == "medium"
