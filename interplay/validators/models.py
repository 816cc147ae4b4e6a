"""Target models: MLPs with capacity presets (the SoK's factor M1), a small CNN for images, and the user's own.

A model is named by a *spec*, the string ``TrainSpec.capacity`` holds and the configuration hash covers:

- a capacity preset, ``small``, ``medium``, ``large`` or ``xlarge``: an MLP on flat inputs, the CNN on images;
- ``mlp:W1,W2,...`` (hidden widths; ``mlp`` alone is ``mlp:128,64``), flattening images first;
- ``cnn:C1,C2`` (the two convolutions' channels; ``cnn`` alone is ``cnn:16,32``), images only;
- ``NAME@DIGEST``: a factory ``factory(input_shape, n_classes) -> nn.Module``, registered by
  :func:`register_factory` (the Python API's ``model=``) or exported by an installed plugin (``MODELS = {NAME:
  factory}``, given as ``--model NAME``). ``DIGEST`` is a digest of the factory's source, so a changed factory
  never reuses stored results. Factories live in a module-level registry by spec; worker processes receive the
  registered ones that they can import (:func:`shipment`) and find plugin models through the entry points.
"""

from __future__ import annotations

import hashlib
import inspect
import marshal
import math
import pickle
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from interplay.errors import UsageError

# Hidden-layer widths per capacity preset (model capacity, factor M1).
CAPACITY = {"small": (32,), "medium": (128, 64), "large": (256, 256), "xlarge": (512, 512, 256)}
# Channel widths of the image CNN per preset.
CNN_CAPACITY = {"small": (8, 16), "medium": (16, 32), "large": (32, 64), "xlarge": (64, 128)}
DEFAULT_MLP, DEFAULT_CNN = CAPACITY["medium"], CNN_CAPACITY["medium"]
MAX_WIDTH, MAX_LAYERS = 65536, 16

ModelFactory = Callable[[tuple[int, ...], int], nn.Module]
_FACTORIES: dict[str, ModelFactory] = {}  # spec NAME@DIGEST -> factory


class ModelError(UsageError, ValueError):
    """A model spec that names no model, or a model that cannot be built for the data."""


def mlp(n_in: int, n_out: int, hidden: tuple[int, ...], flatten: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()] if flatten else []
    for h in hidden:
        layers += [nn.Linear(n_in, h), nn.ReLU()]
        n_in = h
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


def small_cnn(n_out: int, channels: tuple[int, int], input_shape: tuple[int, ...] = (1, 8, 8)) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by 2x2 max pooling, and a linear head (no batch norm: Opacus-compatible)."""
    c1, c2 = channels
    c_in, h, w = input_shape
    return nn.Sequential(
        nn.Conv2d(c_in, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(c2 * (h // 4) * (w // 4), n_out),
    )


def _widths(text: str, spec: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise ModelError(f"model {spec!r}: the widths must be whole numbers separated by commas") from None
    if not 1 <= len(widths) <= MAX_LAYERS or not all(1 <= w <= MAX_WIDTH for w in widths):
        raise ModelError(f"model {spec!r}: give 1 to {MAX_LAYERS} widths, each from 1 to {MAX_WIDTH}")
    return widths


def _choices() -> str:
    named = sorted({s.split("@")[0] for s in _FACTORIES} | set(plugin_models()))
    return f"a preset ({', '.join(CAPACITY)}), mlp:W1,W2,..., cnn or cnn:C1,C2" + (
        f", or a registered model ({', '.join(named)})" if named else ""
    )


def model_spec(spec: str) -> str:
    """``spec`` in canonical form (``mlp:256, 128`` -> ``mlp:256,128``; ``cnn`` -> ``cnn:16,32``; a plugin model's
    name -> ``NAME@DIGEST``); a :class:`ModelError` naming the choices when it names no model."""
    text = str(spec).strip().replace(" ", "")
    kind, sep, rest = text.partition(":")
    if text in CAPACITY or text in _FACTORIES:
        return text
    if kind == "mlp":
        return f"mlp:{','.join(map(str, _widths(rest, spec) if sep else DEFAULT_MLP))}"
    if kind == "cnn":
        widths = _widths(rest, spec) if sep else DEFAULT_CNN
        if len(widths) != 2:
            raise ModelError(f"model {spec!r}: cnn takes two channel widths, e.g. cnn:16,32")
        return f"cnn:{widths[0]},{widths[1]}"
    plugins = plugin_models()
    if text in plugins:
        return register_factory(plugins[text], text)
    raise ModelError(f"unknown model {spec!r}; choose {_choices()}")


def is_builtin(spec: str) -> bool:
    """Whether ``spec`` is one of this module's models (a preset, ``mlp:``, ``cnn:``), not a user's factory."""
    return "@" not in spec


def build_model(input_shape: tuple[int, ...], n_classes: int, capacity: str) -> nn.Module:
    """The model ``capacity`` names (a spec, see the module docstring) for inputs of ``input_shape``."""
    image = len(input_shape) == 3
    if capacity in CAPACITY:
        if image:
            return small_cnn(n_classes, CNN_CAPACITY[capacity], input_shape)
        return mlp(math.prod(input_shape), n_classes, CAPACITY[capacity], flatten=len(input_shape) > 1)
    if "@" in capacity:
        return _factory(capacity)(tuple(input_shape), n_classes)
    kind, _, rest = capacity.partition(":")
    widths = _widths(rest, capacity) if rest else ()
    if kind == "mlp" and widths:
        return mlp(math.prod(input_shape), n_classes, widths, flatten=len(input_shape) > 1)
    if kind == "cnn" and len(widths) == 2:
        if not image or min(input_shape[1:]) < 4:
            shape = "x".join(map(str, input_shape))
            raise ModelError(f"cnn needs images of at least 4x4 (N x C x H x W); the inputs are {shape}: use mlp:...")
        return small_cnn(n_classes, (widths[0], widths[1]), input_shape)
    raise ModelError(f"unknown model {capacity!r}; choose {_choices()}")


def check_model(input_shape: tuple[int, ...], n_classes: int, capacity: str) -> None:
    """Build the model and run it on two zero inputs: a :class:`ModelError` saying what is wrong, before training."""
    try:
        model = build_model(input_shape, n_classes, capacity)
        if not isinstance(model, nn.Module):
            raise ModelError(f"model {capacity}: the factory returned a {type(model).__name__}, not a torch nn.Module")
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, *input_shape))
    except UsageError:
        raise
    except Exception as exc:  # the user's factory or architecture: report it, never a traceback
        raise ModelError(f"model {capacity} fails on inputs of shape {tuple(input_shape)}: {exc}") from None
    if tuple(out.shape) != (2, n_classes):
        raise ModelError(
            f"model {capacity} returns outputs of shape {tuple(out.shape)} for 2 inputs; expected (2, {n_classes}): "
            f"one logit per class"
        )


# --- user factories -----------------------------------------------------------------------------------------


def factory_digest(factory: Any) -> str:
    """A digest of the factory's source (``inspect.getsource``; a class: its whole body), else of its bytecode."""
    try:
        text = inspect.getsource(factory).encode()
    except (OSError, TypeError):
        code = getattr(factory, "__code__", None)
        if code is None:
            raise ModelError(
                f"cannot read the source of the model factory {factory!r}: pass a function or an nn.Module class "
                f"defined in a file or a notebook cell"
            ) from None
        text = marshal.dumps(code)
    return hashlib.sha256(text).hexdigest()[:12]


def register_factory(factory: ModelFactory, name: str | None = None) -> str:
    """Register ``factory(input_shape, n_classes) -> nn.Module``; returns its spec ``NAME@DIGEST``."""
    if not callable(factory):
        raise ModelError(f"a model is a spec string or a callable factory(input_shape, n_classes), not {factory!r}")
    label = re.sub(r"[^A-Za-z0-9_.-]", "", name or getattr(factory, "__name__", "") or type(factory).__name__)
    spec = f"{label or 'model'}@{factory_digest(factory)}"
    _FACTORIES[spec] = factory
    return spec


def plugin_models() -> dict[str, ModelFactory]:
    """The model factories installed plugins export (``MODELS``), by name."""
    from interplay.extensions import models

    return models()


def _factory(spec: str) -> ModelFactory:
    if spec not in _FACTORIES:
        name = spec.split("@")[0]
        plugins = plugin_models()
        if name not in plugins or register_factory(plugins[name], name) != spec:
            raise ModelError(
                f"model {spec} is not registered in this process (a factory passed to interplay.validate(model=...) "
                f"lives in the process that registered it; a plugin's model whose source changed has a new digest)"
            )
    return _FACTORIES[spec]


def why_not_shippable(spec: str) -> str | None:
    """Why a worker process (spawned, so it imports what it unpickles) could not rebuild model ``spec``; None if
    it can: a built-in model, a plugin's, or a factory importable by module and name."""
    if is_builtin(spec) or spec.split("@")[0] in plugin_models():
        return None
    factory = _FACTORIES.get(spec)
    if factory is None:
        return f"{spec} is not registered"
    qualname = getattr(factory, "__qualname__", "")
    if "<" in qualname:
        return f"{qualname} is a lambda or defined inside a function"
    if getattr(factory, "__module__", None) == "__main__":  # a worker runs a script but not its __main__ block
        return f"{qualname} is defined in the notebook or script being run (__main__), not in an importable module"
    try:
        pickle.dumps(factory)
    except Exception as exc:
        return f"{qualname or factory!r} cannot be pickled ({exc})"
    return None


def shipment() -> dict[str, bytes]:
    """The registered factories a worker process can import, each pickled (by reference: module and name)."""
    return {spec: pickle.dumps(f) for spec, f in _FACTORIES.items() if why_not_shippable(spec) is None}


def shipment_by_value() -> dict[str, bytes]:
    """Every registered factory for a Ray worker (:mod:`.executors`): those a worker can import as in
    :func:`shipment`, the others (defined in a notebook or the script being run, lambdas) pickled by value with Ray's
    cloudpickle; one that neither can pickle is left out, and building its model there raises a :class:`ModelError`."""
    shipped = shipment()
    missing = {spec: f for spec, f in _FACTORIES.items() if spec not in shipped}
    if missing:
        from ray import cloudpickle

        for spec, f in missing.items():
            try:
                shipped[spec] = cloudpickle.dumps(f)
            except Exception:
                continue
    return shipped


def install(shipped: dict[str, bytes]) -> None:
    """Register the factories of a :func:`shipment` (in a worker process); one that fails to import is left out,
    and building its model raises a :class:`ModelError` there."""
    for spec, blob in shipped.items():
        try:
            _FACTORIES[spec] = pickle.loads(blob)
        except Exception:  # e.g. its module is gone: only a run that uses this model is affected
            continue
