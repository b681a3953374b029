"""The offline CAFA copy of a training set (as the official code makes it), stored in shards.

``DIR/shard_00012.safetensors`` holds ``adversarial`` uint8 (n, 3, H, W) and ``indices`` int64 (n,):
the positions in the training split of the natural images they were crafted from. CAFA keeps
x_adv in the eps ball around an 8-bit image with eps = 8/255, so rounding x_adv to 8 bits keeps
it in the ball; storing uint8 is lossless enough and 4x smaller than the official float .npy.
``DIR/provenance.json`` records the classifier's sha256, the CAFA config, the seed and the data,
and a crafting run refuses to add shards made under different settings.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

PROVENANCE = "provenance.json"


def shard_path(folder: str | Path, index: int) -> Path:
    return Path(folder) / f"shard_{index:05d}.safetensors"


def write_shard(folder: str | Path, index: int, adversarial: torch.Tensor, indices: torch.Tensor) -> None:
    """Write one shard atomically (temp file, then rename): a shard either exists whole or not at all."""
    if adversarial.dtype != torch.uint8 or indices.dtype != torch.int64 or adversarial.shape[0] != indices.shape[0]:
        raise ValueError(f"need uint8 images and int64 indices of one length, got {adversarial.dtype} "
                         f"{tuple(adversarial.shape)} and {indices.dtype} {tuple(indices.shape)}")
    path = shard_path(folder, index)
    tmp = path.with_name(f".{path.name}.partial")
    save_file({"adversarial": adversarial.contiguous(), "indices": indices.contiguous()}, str(tmp))
    os.replace(tmp, path)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] floats to 8-bit pixels, rounding to nearest."""
    return (x.clamp(0, 1) * 255).round_().to(torch.uint8)


def write_provenance(folder: str | Path, provenance: dict[str, Any]) -> None:
    """Record the settings, or check that the folder was started with the same ones."""
    path = Path(folder) / PROVENANCE
    if path.exists():
        existing = json.loads(path.read_text())
        if existing != provenance:
            changed = sorted(k for k in set(existing) | set(provenance) if existing.get(k) != provenance.get(k))
            raise ValueError(f"{folder} holds CAFA shards made with other settings ({', '.join(changed)}); "
                             "use a new folder")
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(provenance, indent=2) + "\n")


def read_cafa_set(folder: str | Path) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """All shards of ``folder``: (indices int64 (N,), adversarial uint8 (N, 3, H, W), provenance),
    sorted by index. Raises if the set is incomplete (a crafting run still to resume)."""
    folder = Path(folder)
    try:
        provenance = json.loads((folder / PROVENANCE).read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{folder} is not a CAFA shard folder ({exc}); "
                                "make one with `python -m training craft-cafa`") from exc
    shards = [load_file(str(shard_path(folder, i))) for i in range(provenance["num_shards"])
              if shard_path(folder, i).exists()]
    if len(shards) != provenance["num_shards"]:
        raise ValueError(f"{folder} has {len(shards)} of {provenance['num_shards']} shards: "
                         "resume the crafting run first")
    indices = torch.cat([s["indices"] for s in shards])
    adversarial = torch.cat([s["adversarial"] for s in shards])
    order = indices.argsort()
    return indices[order], adversarial[order], provenance
