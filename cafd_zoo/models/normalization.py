"""Input normalisation that lives inside the classifier.

Every zoo model takes float RGB in [0, 1]; mean/std are buffers so they travel with the
weights and no attack library ever needs an adapter.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; ``mean=None`` makes it the identity (the official code)."""

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither (identity normalisation)")
        self.enabled = mean is not None
        if mean is not None and std is not None:
            if len(mean) != len(std):
                raise ValueError(f"mean has {len(mean)} channels but std has {len(std)}")
            if any(s <= 0 for s in std):
                raise ValueError(f"std must be positive, got {tuple(std)}")
        self.register_buffer("mean", torch.tensor(mean or (0.0,)).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std or (1.0,)).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        if not self.enabled:
            return "identity"
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"
