"""Run configurations: YAML files in training/configs/, read into dataclasses that reject unknown keys."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from cafd_zoo.models import is_architecture, list_architectures

from ..engine.lr_schedule import Schedule
from .adversarial_training import AdversarialTraining, PGDTraining, adversarial_from_dict, check_integer

T = TypeVar("T")


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything a target-classifier run depends on (the official recipe is the default optimiser)."""

    architecture: str
    dataset: str
    epochs: int
    num_classes: int = 10
    architecture_args: dict[str, Any] = field(default_factory=dict)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    label_smoothing: float = 0.0
    schedule: Schedule = field(default_factory=Schedule)
    crop_padding: int = 4
    flip: bool = True
    seed: int = 0
    precision: str = "auto"
    channels_last: bool = True
    checkpoint_every: int = 200
    log_every: int = 20
    eval_batch_size: int = 500
    train_subset: int | None = None
    test_subset: int | None = None
    check_md5: bool = True
    # AT / DOA: train on attacked batches (training/classifier/adversarial_training.py)
    adversarial: AdversarialTraining | None = None
    # AT: PGD-10 accuracy on this many training images per epoch (training/classifier/robust_probe.py)
    robust_probe_images: int = 0

    def __post_init__(self) -> None:
        if not is_architecture(self.architecture, task="classifier"):  # before hours of work that would fail
            what = "not a classifier" if is_architecture(self.architecture) else "unknown architecture"
            raise ValueError(f"{what} {self.architecture!r}: a zoo classifier "
                             f"({', '.join(list_architectures(task='classifier'))}) or timm:<a timm model name>")
        check_integer("robust_probe_images", self.robust_probe_images, 0)
        if self.robust_probe_images and not isinstance(self.adversarial, PGDTraining):
            raise ValueError("robust_probe_images watches PGD adversarial training: it needs an "
                             "adversarial: {attack: pgd, ...} block (or set it to 0)")


def _build(cls: type[T], raw: dict[str, Any], where: str) -> T:
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    values = dict(raw)
    if "schedule" in values and isinstance(values["schedule"], dict):
        values["schedule"] = _build(Schedule, {k: tuple(v) if isinstance(v, list) else v
                                               for k, v in values["schedule"].items()}, f"{where}: schedule")
    for key in ("mean", "std"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    if cls is ClassifierConfig and values.get("adversarial") is not None:
        values["adversarial"] = adversarial_from_dict(values["adversarial"], f"{where}: adversarial")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def load_config(path: str | Path, cls: type[T] = ClassifierConfig) -> T:  # type: ignore[assignment]
    """Read ``path`` (YAML) into ``cls``; unknown or missing keys are errors that name the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    return _build(cls, raw, str(path))


# left out while unset, so records written before these fields existed still match
ADDED_LATER = ("adversarial", "robust_probe_images")


def config_dict(config: Any) -> dict[str, Any]:
    """A JSON-able copy of a config, for logs and checkpoints (checkpoints, results and CAFA shards compare it).

    Fields added after runs were recorded (``ADDED_LATER``, and a config class's own ``added_later``) are left
    out while they hold their defaults, so those records still match and their checkpoints still resume."""
    values = json_safe(dataclasses.asdict(config))
    later = {f.name: json_safe(f.default) for f in dataclasses.fields(config)
             if f.name in ADDED_LATER + tuple(getattr(config, "added_later", ()))}
    return {k: v for k, v in values.items() if not (k in later and v == later[k])}


def differences_from_record(recorded: dict[str, Any], config: Any) -> list[str]:
    """The settings in which a run recorded with ``recorded`` (its ``result.json`` config) did not run ``config``:
    a recorded setting that differs, or a setting the record lacks (added to the config class after the run) that
    is not at its default, which is what the run did before the setting existed. Empty: the run ran ``config``."""
    current = json.loads(json.dumps(config_dict(config)))
    defaults = {f.name: json.loads(json.dumps(json_safe(f.default))) for f in dataclasses.fields(config)
                if f.default is not dataclasses.MISSING}
    differ = [k for k, v in recorded.items() if current.get(k, defaults.get(k)) != v]
    return differ + [k for k, v in current.items() if k not in recorded and (k not in defaults or v != defaults[k])]


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
