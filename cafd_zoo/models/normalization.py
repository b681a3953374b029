"""Input normalisation that lives inside the classifier.

Every zoo model takes float RGB in [0, 1]; mean/std are buffers so they travel with the
weights and no attack library ever needs an adapter. As the first step of every zoo classifier,
``Normalize`` also casts other float inputs (float64, float16, bfloat16) to the model's dtype and,
for a classifier loaded as a release, checks the batch like ``DefendedClassifier`` does.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..input_checks import check_image_batch

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; ``mean=None`` makes it the identity (the official code).

    ``check_inputs`` (off by default; on for classifier releases, see :class:`ReleaseInputChecks`)
    validates every batch with :func:`check_image_batch`; ``channels`` and ``size`` are what it expects.
    """

    check_inputs: bool = False
    channels: int | None = None
    size: tuple[int, int] | None = None

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
        if self.check_inputs:
            check_image_batch(x, channels=self.channels, size=self.size)
        if x.is_floating_point() and x.dtype != self.mean.dtype:
            x = x.to(self.mean.dtype)  # float64 / float16 / bfloat16 inputs: the model's dtype, differentiably
        if not self.enabled:
            return x
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        if not self.enabled:
            return "identity"
        return f"mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()}"


class ReleaseInputChecks:
    """Mixin of the zoo classifiers: a classifier loaded as a release checks its inputs.

    ``cafd_zoo.load`` calls :meth:`check_inputs_as_release` with the release's input convention; that
    turns on the batch check of ``DefendedClassifier`` (type, dtype, channels, the release's size,
    [0, 1], finiteness), so NaN or 0-255 images are refused instead of classified. A classifier built
    with ``create_model`` (training, attacks on raw modules) is not checked. ``check_inputs`` reads
    and sets it (``False`` to skip the one reduction per batch it costs).
    """

    normalize: Normalize

    @property
    def check_inputs(self) -> bool:
        return self.normalize.check_inputs

    @check_inputs.setter
    def check_inputs(self, value: bool) -> None:
        self.normalize.check_inputs = bool(value)

    def check_inputs_as_release(self, input_spec: dict | None = None) -> None:
        """Check every batch as the release's input convention says (``{"size": [C, H, W], ...}``)."""
        shape = (input_spec or {}).get("size") or getattr(self, "input_size", None)
        if shape:
            self.normalize.channels, self.normalize.size = int(shape[0]), (int(shape[1]), int(shape[2]))
        self.normalize.check_inputs = True
