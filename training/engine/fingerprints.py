"""The fingerprint of a model's weights on every process of a torchrun job, for the end-of-run check that
the replicas never drifted apart."""
from __future__ import annotations

import hashlib

import torch
import torch.distributed as dist


def gather_fingerprints(model: torch.nn.Module) -> list[str]:
    """The sha256 of ``model``'s weights on every rank, gathered: equal strings prove the replicas agree."""
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    gathered: list[str] = [""] * dist.get_world_size()
    dist.all_gather_object(gathered, digest.hexdigest())
    return gathered
