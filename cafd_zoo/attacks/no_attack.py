"""``none``: the clean images themselves, so the clean error (Table 1's "None" column) is one more cell of an
evaluation, run, sharded, resumed and recorded exactly like the attacks beside it."""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_attack


def no_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` unchanged (a copy, so a caller that edits its result in place never edits the data set)."""
    return x.clone()


register_attack("none", no_attack, {}, summary="no attack: the clean images (the paper's None column)")
