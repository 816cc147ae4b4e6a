"""Fashion-MNIST from its IDX files (:mod:`interplay.validators.fashion_mnist`): read offline from a folder or Debian's
package, checked (magic number, dimensions, length, gzip), its digest in the configuration; bad files are a message
and exit status 2. The image probes on it: class-wise discrimination, attribute inference not applicable; a CNN on
28 x 28 images trains the same alone and in a batch."""

from __future__ import annotations

import gzip
import warnings
from dataclasses import replace

import numpy as np
import pytest
from idx_sample import idx_bytes, write_sample
from typer.testing import CliRunner

from interplay.cli.app import app
from interplay.validators import fashion_mnist
from interplay.validators.batched import Stack
from interplay.validators.data import DataError
from interplay.validators.defenses.adversarial_training import AdversarialTraining
from interplay.validators.defenses.base import DefensePlugin
from interplay.validators.needs import ProbeUnsupported
from interplay.validators.registry import RISKS
from interplay.validators.settings import data_digest, default_settings, load_task

TINY = default_settings("fashion-mnist", "tiny")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("fm"))


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_the_sample_loads_as_images_in_the_unit_box(sample, tmp_path):
    task = load_task(TINY, 0, sample)
    assert task.input_shape == (1, 28, 28) and task.n_classes == 10 and task.bounds == (0.0, 1.0)
    assert len(task.train) == TINY.n_train and len(task.test) == len(task.aux) == TINY.n_train
    assert 0.0 <= float(task.train.x.min()) and float(task.train.x.max()) <= 1.0 and task.train.x.max() > 0.9
    assert (task.train.s.numpy() == np.isin(task.train.y.numpy(), fashion_mnist.FOOTWEAR)).all()
    raw = write_sample(tmp_path / "raw", gz=False)  # the same arrays, not compressed
    assert (load_task(TINY, 0, raw).train.x == task.train.x).all()
    assert not (load_task(TINY, 1, sample).train.x == task.train.x).all()  # another seed, another split


def test_the_files_digest_enters_the_configuration(sample, tmp_path):
    other = write_sample(tmp_path / "other", seed=1)
    assert data_digest(TINY, str(sample)) == fashion_mnist.digest(sample)
    assert data_digest(TINY, str(other)) != data_digest(TINY, str(sample))


def _broken(tmp_path, sample, name: str, content: bytes):
    folder = tmp_path / "bad"
    folder.mkdir()
    for path in sample.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / name).write_bytes(content)
    return folder


LABELS = "train-labels-idx1-ubyte.gz"
BAD = {
    "wrong magic": (gzip.compress(b"\x00\x00\x08\x03" + bytes(12)), "wrong magic number"),
    "truncated": (gzip.compress(idx_bytes(np.zeros(900, np.uint8))[:-10]), "truncated"),
    "bad gzip": (b"\x1f\x8b\x08\x00 not really compressed", "damaged or truncated gzip"),
    "not gzip": (idx_bytes(np.zeros(900, np.uint8)), "not gzip-compressed"),
    "empty": (b"", "not gzip-compressed"),
}


@pytest.mark.parametrize("fault", BAD)
def test_a_bad_file_is_a_message_naming_it(fault, sample, tmp_path):
    content, says = BAD[fault]
    folder = _broken(tmp_path, sample, LABELS, content)
    with pytest.raises(DataError, match=says):
        load_task(TINY, 0, folder)
    result = _cli("validate", "weight-decay", "membership-inference", "--dataset", "fashion-mnist", "--preset", "tiny",
                  "--data-path", folder, "--store", tmp_path / "s.db")  # fmt: skip
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
    assert LABELS in result.output and not (tmp_path / "s.db").exists()


def test_a_missing_folder_names_the_install_command(tmp_path):
    result = _cli("validate", "weight-decay", "membership-inference", "--dataset", "fashion-mnist", "--preset", "tiny",
                  "--data-path", tmp_path / "nowhere", "--store", tmp_path / "s.db")  # fmt: skip
    assert result.exit_code == 2 and fashion_mnist.INSTALL in " ".join(result.output.split())
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        fashion_mnist.files(tmp_path)


def test_a_folder_is_only_for_datasets_that_read_files(sample, tmp_path):
    result = _cli("validate", "weight-decay", "membership-inference", "--dataset", "digits", "--preset", "tiny",
                  "--data-path", sample, "--store", tmp_path / "s.db")  # fmt: skip
    assert result.exit_code == 2 and "Fashion-MNIST" in result.output


@pytest.mark.skipif(
    not fashion_mnist.installed(), reason=f"Debian's Fashion-MNIST is not installed ({fashion_mnist.INSTALL})"
)
def test_the_debian_files_are_fashion_mnist():
    x, y = fashion_mnist._arrays(fashion_mnist.digest(), tuple(fashion_mnist.files()))
    assert x.shape == (70_000, 1, 28, 28) and np.bincount(y).tolist() == [7000] * 10
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    task = load_task(default_settings("fashion-mnist"), 0)
    assert len(task.train) == 2000 and task.input_shape == (1, 28, 28)


def test_discrimination_on_classes_is_the_class_wise_accuracy_disparity(sample):
    task = load_task(TINY, 0, sample)
    probe = RISKS["discrimination"](TINY, task)
    assert probe.params.groups == "classes" and RISKS["discrimination"].metric_for(TINY) == "accuracy_gap"
    deployment = DefensePlugin(TINY, task).deploy(task.train, 0)
    m = probe.measure(deployment, task.train, 0)
    pred = deployment.model(task.test.x).argmax(1)
    per_class = [float((pred[task.test.y == c] == c).float().mean()) for c in task.test.y.unique()]
    assert m.score == pytest.approx(max(per_class) - min(per_class), abs=1e-6)
    assert m.raw["worst_class_accuracy"] == pytest.approx(min(per_class), abs=1e-6)
    assert "demographic_parity_difference" not in m.raw and 0.0 <= m.raw["robust_accuracy_gap"] <= 1.0
    binary = replace(TINY, overrides=(("discrimination", "groups", "sensitive"),))
    with pytest.raises(ProbeUnsupported, match="binary task"):
        RISKS["discrimination"](binary, task)


def test_attribute_inference_says_why_it_does_not_apply(sample):
    with pytest.raises(ProbeUnsupported, match="function of the label"):
        RISKS["attribute-inference"](TINY, load_task(TINY, 0, sample))


@pytest.mark.parametrize("plugin", [DefensePlugin, AdversarialTraining])
def test_a_cnn_on_28x28_images_trains_the_same_alone_and_in_a_batch(plugin, sample):
    settings = replace(TINY, train=replace(TINY.train, epochs=2))
    tasks = [load_task(settings, seed, sample) for seed in (0, 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        defense = plugin(settings, tasks[0])
        together = defense.deploy_many([t.train for t in tasks], [0, 1])
        alone = defense.deploy(tasks[1].train, 1)
    assert Stack([alone.model]).plan is None  # the CNN: the stack's loop over models
    for p, q in zip(alone.model.parameters(), together[1].model.parameters(), strict=True):
        assert (p == q).all()
    assert any(
        (p != q).any() for p, q in zip(together[0].model.parameters(), together[1].model.parameters(), strict=True)
    )


def test_flip_crop_augmentation_is_the_image_default_and_needs_images(sample):
    from interplay.validators.defenses.data_augmentation import DataAugmentation, FlipCrop

    task = load_task(TINY, 0, sample)
    defense = DataAugmentation(TINY, task)
    assert isinstance(defense.hooks(), FlipCrop)
    x = task.train.x[:4]
    seen = []
    FlipCrop(2).loss(lambda batch: seen.append(batch) or batch.flatten(1)[:, :10], x, task.train.y[:4], None)
    assert seen[0].shape == x.shape and not (seen[0] == x).all()  # flipped or shifted, same size
    assert (seen[0].sum((1, 2, 3)) <= x.sum((1, 2, 3)) + 1e-4).all()  # a crop keeps or cuts pixels, adds none
    tabular = default_settings("synthetic", "tiny").with_overrides((("data-augmentation", "kind", "flip-crop"),))
    with pytest.raises(ProbeUnsupported, match="needs images"):
        DataAugmentation(tabular, load_task(tabular, 0))


def test_an_image_cell_without_the_data_is_unsupported_not_a_stopped_matrix(tmp_path, monkeypatch):
    import interplay

    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "absent")
    m = interplay.validate_matrix(
        defenses=["adversarial-training"], risks=["discrimination", "poisoning"], preset="tiny", seeds=2,
        store=tmp_path / "s.db", setting="literature",
    )  # fmt: skip
    cells = {c.risk: c.to_dict() for c in m.cells}
    image, other = cells["discrimination"], cells["poisoning"]
    assert image["verdict"] == "unsupported" and fashion_mnist.INSTALL in image["reason"]
    assert other["verdict"] != "unsupported" and other["observed"] is not None
