"""An image classification split held in memory as uint8: 50k CIFAR images are 150 MB, so every
loader reads the whole split once and batches are sliced from it (no worker processes needed)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ImageSet:
    """``images`` uint8 (N, C, H, W), ``labels`` int64 (N,), plus where they came from."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    split: str
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"{self.images.shape[0]} images but labels of shape {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """One image as float in [0, 1] and its label (the torch Dataset protocol)."""
        return self.images[index].float().div_(255), int(self.labels[index])

    def batch(self, indices: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Images as float in [0, 1] (N, C, H, W) and labels, for ``indices``."""
        return self.images[indices].float().div_(255), self.labels[indices]

    def subset(self, n: int) -> ImageSet:
        """The first ``n`` examples (the evaluation convention: a fixed, recorded subset)."""
        if not 0 < n <= len(self):
            raise ValueError(f"n must be in [1, {len(self)}], got {n}")
        return ImageSet(self.images[:n], self.labels[:n], self.name, self.split, self.classes)
