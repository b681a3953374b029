"""A differentiable JPEG purifier: kornia's codec (Reich et al. 2024), for a true white-box attack on JPEG.

The real codec (:mod:`.jpeg`) has no gradient, so attacking it end to end *is* BPDA. kornia models
the same pipeline (YCbCr, 4:2:0 chroma subsampling, 8x8 DCT, the standard quantisation tables scaled by
quality) with smooth stand-ins for rounding, so the gradient of ``jpeg_diff(x)`` is the true gradient of
a close approximation of JPEG: the adaptive attack the reference note (section 2.7) asks for. kornia is
an optional dependency (the ``eval`` extra), imported only when this purifier is built.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..input_checks import check_image_batch
from .jpeg import check_quality


def _kornia_codec() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    try:
        from kornia.enhance import jpeg_codec_differentiable
    except ImportError as exc:
        raise ModuleNotFoundError("the jpeg_diff purifier needs kornia's differentiable JPEG codec: "
                                  "pip install 'cafd-zoo[eval]' (or pip install kornia)") from exc
    return jpeg_codec_differentiable


class DifferentiableJPEGPurifier(nn.Module):
    """``forward(x) = jpeg_diff(x) - x`` with its true gradient: end to end, the attack differentiates JPEG."""

    in_channels = 3

    def __init__(self, quality: int = 75) -> None:
        super().__init__()
        self.quality = check_quality(quality)
        self._codec = _kornia_codec()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, channels=3, size=None)
        quality = torch.tensor([float(self.quality)], device=x.device)
        return self._codec(x, quality) - x

    def extra_repr(self) -> str:
        return f"quality={self.quality}, codec=kornia.enhance.jpeg_codec_differentiable"
