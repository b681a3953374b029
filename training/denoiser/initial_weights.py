"""Where a fine-tuning run starts: a released denoiser (by zoo name, through the verified loader) or
the ``denoiser.safetensors`` of an earlier train-denoiser run."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file
from torch import nn

from cafd_zoo.integrity import sha256_of
from cafd_zoo.models import create_model

from ..engine.safetensors_io import read_metadata


class TrainedDenoiser(NamedTuple):
    state: dict[str, torch.Tensor]
    architecture: str  # a registered name: dunet (CAFD, HGD) or ape_gan_generator (APE-G)
    arguments: dict[str, Any]
    provenance: str

    def build(self) -> nn.Module:
        """The architecture with these weights, loaded strictly."""
        model = create_model(self.architecture, **self.arguments)
        model.load_state_dict(self.state, strict=True)
        return model


def load_initial_denoiser(source: str) -> TrainedDenoiser:
    """The weights, architecture and provenance of ``source``: a file or a release name."""
    path = Path(source)
    if path.suffix == ".safetensors" and path.is_file():
        metadata = read_metadata(path)
        if "architecture" not in metadata or "architecture_args" not in metadata:
            raise ValueError(f"{path} is not a train-denoiser output (no architecture in its metadata)")
        arguments = metadata["architecture_args"]
        arguments = json.loads(arguments) if isinstance(arguments, str) else arguments  # files written before save_canonical
        return TrainedDenoiser(load_file(str(path)), metadata["architecture"], arguments, f"file sha256 {sha256_of(path)}")
    from cafd_zoo.hub import load, model_info

    info = model_info(source)  # an unknown name raises with close matches
    if "denoiser" not in info["files"]:
        raise ValueError(f"{source} is a {info['kind']} release with no denoiser to start from")
    model = load(source)
    denoiser = model.denoiser if info["kind"] == "defended" else model
    entry = info["files"]["denoiser"]
    return TrainedDenoiser({k: v.detach().clone() for k, v in denoiser.state_dict().items()}, entry["architecture"],
                           dict(entry["arguments"]), f"release {source} sha256 {entry['sha256']}")
