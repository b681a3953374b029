"""Where a fine-tuning run starts: a released denoiser (by zoo name, through the verified loader) or
the ``denoiser.safetensors`` of an earlier train-denoiser run."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from cafd_zoo.integrity import sha256_of

from .safetensors_io import read_metadata


def load_initial_denoiser(source: str) -> tuple[dict[str, torch.Tensor], dict[str, Any], str]:
    """(state dict, DUNET builder arguments, a provenance string) of ``source``."""
    path = Path(source)
    if path.suffix == ".safetensors" and path.is_file():
        metadata = read_metadata(path)
        if metadata.get("architecture") != "dunet" or "architecture_args" not in metadata:
            raise ValueError(f"{path} is not a train-denoiser output (no dunet architecture in its metadata)")
        arguments = metadata["architecture_args"]
        arguments = json.loads(arguments) if isinstance(arguments, str) else arguments  # files written before save_canonical
        return load_file(str(path)), arguments, f"file sha256 {sha256_of(path)}"
    from cafd_zoo.hub import load, model_info

    info = model_info(source)  # an unknown name raises with close matches
    if "denoiser" not in info["files"]:
        raise ValueError(f"{source} is a {info['kind']} release with no denoiser to start from")
    model = load(source)
    denoiser = model.denoiser if info["kind"] == "defended" else model
    entry = info["files"]["denoiser"]
    return ({k: v.detach().clone() for k, v in denoiser.state_dict().items()}, dict(entry["arguments"]),
            f"release {source} sha256 {entry['sha256']}")
