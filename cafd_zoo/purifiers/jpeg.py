"""JPEG compression as a purifier (Dziugaite et al. 2016; the paper's JPEG row uses quality 75)."""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..input_checks import check_image_batch


def check_quality(quality: int) -> int:
    """``quality`` if it is a JPEG quality (1 to 100), else a ValueError saying so."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be between 1 and 100, got {quality}")
    return quality


def jpeg_roundtrip(x: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """Encode each image of ``x`` (float RGB in [0, 1], NCHW) as a JPEG of ``quality`` and decode it back,
    with libjpeg through Pillow (4:2:0 chroma subsampling, its default): the real codec, 8-bit rounding included."""
    check_quality(quality)
    check_image_batch(x, channels=3, size=None)
    pixels = (x.detach().float().cpu() * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    decoded = []
    for image in pixels:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        decoded.append(np.asarray(Image.open(buffer).convert("RGB")))
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype) / 255


class JPEGPurifier(nn.Module):
    """``forward(x) = jpeg(x) - x``: the JPEG round trip as a residual, with no gradient (see the package note)."""

    in_channels = 3

    def __init__(self, quality: int = 75) -> None:
        super().__init__()
        self.quality = check_quality(quality)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return jpeg_roundtrip(x, self.quality) - x.detach()

    def extra_repr(self) -> str:
        return f"quality={self.quality}"
