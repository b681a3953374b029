"""A trained classifier: its weights file (a train-classifier run folder, or a released zoo classifier) and the
model loaded from it.

Both give a safetensors file; a release's file is fetched and sha256-checked by the zoo's loader
first. Weights stored in fp16 (the embedded release) load into the fp32 architecture exactly:
every fp16 value is an fp32 value, so CAFA shards and denoisers made from the release equal those
made from an fp32 copy of it.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from .config import ClassifierConfig
from .train import build_classifier


def classifier_weights(run_or_release: str | Path) -> Path:
    """The weights file of ``run_or_release``: ``<folder>/model.safetensors``, a run's weights file itself (an
    epoch's, ``RUN/epochs/epoch_012.safetensors``, kept by adversarial training: the epoch before a collapse), or a
    classifier release's verified file."""
    folder = Path(run_or_release)
    if folder.is_file() and folder.suffix == ".safetensors":
        return folder
    if folder.is_dir():
        weights = folder / "model.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(f"{weights} does not exist: --classifier-run takes a finished train-classifier "
                                    "--out folder (it ends with model.safetensors) or a zoo classifier release name")
        return weights
    from cafd_zoo.hub import download, list_models, model_info

    name = str(run_or_release)
    if name not in list_models():
        classifiers = [m for m in list_models() if model_info(m)["kind"] == "classifier"]
        raise FileNotFoundError(f"--classifier-run {name!r} is neither a folder nor a zoo release "
                                f"(classifier releases: {', '.join(classifiers) or 'none'})")
    info = model_info(name)
    if info["kind"] != "classifier":
        raise ValueError(f"{name!r} is a {info['kind']} release; --classifier-run takes a classifier release")
    return download(name)["classifier"]


def load_trained_classifier(weights: str | Path, config: ClassifierConfig, device: torch.device) -> torch.nn.Module:
    """The classifier a train-classifier run wrote (``model.safetensors``), strictly loaded, in eval mode."""
    model = build_classifier(config)
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.to(device).eval()
