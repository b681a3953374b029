"""A trained denoiser from where it lives: a zoo release (by name, every file sha256-checked) or the
``denoiser.safetensors`` a training run wrote (train-denoiser, finetune-denoiser), whose metadata names its
architecture.

Why: a denoiser fine-tuned for your own classifier is a file, not a release; this puts it in front of that
classifier in one line, ``DefendedClassifier(load_denoiser("runs/ft/denoiser.safetensors"), my_classifier)``.
A safetensors file holds tensors and strings only, so reading one cannot run code, unlike a pickle.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file
from torch import nn

from .integrity import sha256_of
from .models import create_model
from .weight_metadata import read_metadata


class TrainedDenoiser(NamedTuple):
    """A denoiser's weights with what is needed to rebuild it and to record where they came from."""
    state: dict[str, torch.Tensor]
    architecture: str  # a registered name: dunet (CAFD, HGD) or ape_gan_generator (APE-G)
    arguments: dict[str, Any]
    provenance: str  # where the weights came from, for a run's record: "file sha256 ..." or "release NAME sha256 ..."

    def build(self) -> nn.Module:
        """The architecture with these weights, loaded strictly."""
        model = create_model(self.architecture, **self.arguments)
        model.load_state_dict(self.state, strict=True)
        return model


def read_denoiser(source: str | Path) -> TrainedDenoiser:
    """The weights, architecture and provenance of ``source``: a ``.safetensors`` file or a release name."""
    path = Path(source)
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (a train-denoiser or finetune-denoiser run writes "
                                    "RUN/denoiser.safetensors when it finishes)")
        metadata = read_metadata(path)
        if "architecture" not in metadata or "architecture_args" not in metadata:
            raise ValueError(f"{path} is not a train-denoiser output (no architecture in its metadata)")
        arguments = metadata["architecture_args"]
        # files written before save_canonical
        arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        return TrainedDenoiser(load_file(str(path)), metadata["architecture"], arguments,
                               f"file sha256 {sha256_of(path)}")
    from .hub import load, model_info

    info = model_info(str(source))  # an unknown name raises with close matches
    if "denoiser" not in info["files"]:
        raise ValueError(f"{source} is a {info['kind']} release with no denoiser")
    model = load(str(source))
    denoiser = model.denoiser if info["kind"] == "defended" else model
    entry = info["files"]["denoiser"]
    return TrainedDenoiser({k: v.detach().clone() for k, v in denoiser.state_dict().items()}, entry["architecture"],
                           dict(entry["arguments"]), f"release {source} sha256 {entry['sha256']}")


def load_denoiser(source: str | Path) -> nn.Module:
    """A denoiser in eval mode from a release name (``cafd_denoiser_cifar10``; a defended release gives its
    denoiser) or a run's ``denoiser.safetensors``: put it in front of any classifier with ``DefendedClassifier``."""
    return read_denoiser(source).build().eval()
