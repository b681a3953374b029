"""``import-classifier``: your own trained classifier (any timm model, or a zoo architecture) as a run folder, which
every command that takes ``--classifier-run`` and ``--classifier-config`` accepts: craft-cafa, finetune-denoiser,
train-denoiser, evaluate, sweep.

Why a command and not a recipe of three lines: the zoo feeds images in [0, 1] and normalises inside the classifier,
so a model trained on normalised images needs its mean and std stored with its weights. A wrong normalisation
gives a classifier that runs but is near chance, and every CAFA copy and denoiser made from it is silently wasted;
the accuracy on the embedded CIFAR-10 test sample, measured at import, shows it at once. Safetensors only: loading
a pickle (``.pt``, ``.pth``) can run code.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch
import yaml
from safetensors.torch import load_file, save_file

from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.integrity import sha256_of
from cafd_zoo.models.timm_classifier import TimmClassifier
from cafd_zoo.weight_metadata import read_metadata

from .config import ClassifierConfig, config_dict
from .train import accuracy, build_classifier

LOW_ACCURACY = 0.5  # on CIFAR-10's first 1,000 test images: any trained CIFAR-10 classifier is far above this
HOW_TO_CONVERT = ("safetensors.torch.save_file(model.state_dict(), 'model.safetensors') converts a model you "
                  "have in Python")


def _read_weights(weights: Path, strip_prefix: str) -> dict[str, torch.Tensor]:
    if weights.suffix != ".safetensors":
        raise ValueError(f"{weights}: import-classifier reads .safetensors files only (a pickle can run code when "
                         f"loaded); {HOW_TO_CONVERT}")
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} does not exist")
    read_metadata(weights)  # one clear message for a damaged or foreign file
    state = load_file(str(weights))
    if strip_prefix:
        state = {k[len(strip_prefix):] if k.startswith(strip_prefix) else k: v for k, v in state.items()}
    return state


def _load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], weights: Path) -> None:
    """Strictly: the file's keys are the timm model's own (``conv1.weight``) or the zoo wrapper's
    (``net.conv1.weight``)."""
    target = model.net if isinstance(model, TimmClassifier) and not any(k.startswith("net.") for k in state) else model
    expected = target.state_dict()
    if not any(k.startswith("normalize.") for k in state):  # the wrapper's own buffers come from --mean / --std
        state = {**{k: v for k, v in expected.items() if k.startswith("normalize.")}, **state}
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{weights} does not fit the architecture: {len(missing)} missing key(s) {missing[:4]}, "
                         f"{len(unexpected)} unexpected {unexpected[:4]} (a prefix such as 'module.': --strip-prefix)")
    shapes = [k for k, v in state.items() if v.shape != expected[k].shape]
    if shapes:
        k = shapes[0]
        raise ValueError(f"{weights} does not fit the architecture: {k} is {tuple(state[k].shape)}, the model's is "
                         f"{tuple(expected[k].shape)} (--num-classes? the architecture's variant?)")
    target.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)


def import_classifier(architecture: str, weights: str | Path, out: str | Path, *, dataset: str = "cifar10",
                      num_classes: int = 10, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                      strip_prefix: str = "") -> dict:
    """Write ``out/model.safetensors`` (fp32, the zoo wrapper's keys), ``out/config.yaml`` and ``out/imported.json``
    (the source file's sha256 and, for a 10-class CIFAR-10 model, its accuracy on the embedded test sample)."""
    weights, out = Path(weights), Path(out)
    if (out / "model.safetensors").exists():
        raise FileExistsError(f"{out}/model.safetensors exists already: choose another --out (nothing was changed)")
    config = ClassifierConfig(architecture=architecture, dataset=dataset, epochs=0, num_classes=num_classes,
                              mean=tuple(mean) if mean else None, std=tuple(std) if std else None)
    model = build_classifier(config).eval()
    _load_into(model, _read_weights(weights, strip_prefix), weights)
    with torch.no_grad():
        probe = model(torch.rand(2, 3, 32, 32))  # CIFAR-10 and SVHN images
    if not torch.isfinite(probe).all():
        raise ValueError(f"{weights}: the imported classifier's logits are not finite on random images in [0, 1]")
    record = {"architecture": architecture, "source": str(weights), "source_sha256": sha256_of(weights),
              "dataset": dataset, "num_classes": num_classes, "mean": config.mean, "std": config.std}
    if dataset == "cifar10" and num_classes == 10:
        sample = embedded_cifar10_sample()
        record["embedded_sample_accuracy"] = accuracy(model, sample, 250, "fp32", channels_last=False)
        record["embedded_sample_n"] = len(sample)
    out.mkdir(parents=True, exist_ok=True)
    staged = out / "model.safetensors.partial"
    save_file({k: v.detach().float().contiguous() for k, v in model.state_dict().items()}, str(staged))
    header = (f"# import-classifier: {weights.name} ({record['source_sha256'][:12]}) as {architecture}; not trained "
              "by train-classifier (epochs: 0).\n# Pass it as --classifier-config, with --classifier-run "
              f"{out}.\n")
    (out / "config.yaml").write_text(header + yaml.safe_dump(config_dict(config), sort_keys=False))
    (out / "imported.json").write_text(json.dumps(record, indent=2) + "\n")
    os.replace(staged, out / "model.safetensors")  # last: a folder with model.safetensors is complete
    return record


def low_accuracy_warning(record: dict) -> str | None:
    """What to check when the imported model is near chance on the embedded CIFAR-10 sample."""
    accuracy = record.get("embedded_sample_accuracy")
    if accuracy is None or accuracy >= LOW_ACCURACY:
        return None
    return (f"warning: {100 * accuracy:.1f}% on the first 1,000 CIFAR-10 test images. The zoo feeds images in [0, 1]: "
            "if the model was trained on normalised images, give its --mean and --std; check --num-classes and the "
            "class order (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck)")
