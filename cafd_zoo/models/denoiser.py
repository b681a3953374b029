"""DUNET, the HGD-style U-Net denoiser of CAFD, with the exact layout of the official code.

The network predicts a *residual*: the purified image is ``clamp(x + C(x), 0, 1)``. The official
code adds the residual without a clamp (``clamp=False`` in :func:`purify` reproduces it).

Layout at ``width=64`` (11,038,851 parameters for 3 channels): encoder stages of 2, 3, 3, 3, 3
conv-BN-ReLU blocks with 64, 128, 256, 256, 256 channels, each 3-block stage opening with a
stride-2 conv. Each decoder stage upsamples (bilinear) to the size of its skip connection,
concatenates it, and applies 3, 3, 3, 2 blocks with 256, 256, 128, 64 channels; a 1x1 conv gives
the residual. ``decoder="official"`` keeps the official code's quirk that 3-block decoder stages
also open with a stride-2 conv (so they halve the resolution they just doubled);
``decoder="upsample"`` is the decoder HGD intended (no stride in the decoder). Both have the
same parameters, so weights are interchangeable in shape but not in function.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..input_checks import to_model_dtype
from ._registry import register_model

_ENC_CHANNELS = (64, 128, 256, 256, 256)
_ENC_BLOCKS = (2, 3, 3, 3, 3)
_DEC_CHANNELS = (256, 256, 128, 64)
_DEC_BLOCKS = (3, 3, 3, 2)


def purify(denoiser: nn.Module, x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """``x + denoiser(x)``, clamped to the image range [0, 1] unless ``clamp=False`` (official)."""
    out = x + denoiser(x)
    return out.clamp(0.0, 1.0) if clamp else out


class ConvBNReLU(nn.Sequential):
    """The DUNET's unit: 3x3 convolution, batch norm (the official momentum), ReLU."""
    def __init__(self, in_ch: int, out_ch: int, stride: int, bn_momentum: float) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, stride, 1),
            nn.BatchNorm2d(out_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
        )


def _stage(in_ch: int, out_ch: int, blocks: int, stride: int, bn_momentum: float) -> nn.Sequential:
    layers = [ConvBNReLU(in_ch, out_ch, stride, bn_momentum)]
    layers += [ConvBNReLU(out_ch, out_ch, 1, bn_momentum) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class DUNET(nn.Module):
    """Residual U-Net denoiser; ``forward`` returns the residual C(x), :meth:`purify` the image."""

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        decoder: Literal["official", "upsample"] = "official",
        bn_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if decoder not in ("official", "upsample"):
            raise ValueError(f"decoder must be 'official' or 'upsample', got {decoder!r}")
        if width < 1 or in_channels < 1:
            raise ValueError(f"width and in_channels must be >= 1, got {width} and {in_channels}")
        scale = width / 64
        enc = [max(1, round(c * scale)) for c in _ENC_CHANNELS]
        dec = [max(1, round(c * scale)) for c in _DEC_CHANNELS]
        self.in_channels = in_channels
        self.width = width
        self.decoder_mode = decoder
        self.encoder = nn.ModuleList()
        prev = in_channels
        for ch, n in zip(enc, _ENC_BLOCKS):
            self.encoder.append(_stage(prev, ch, n, 2 if n == 3 else 1, bn_momentum))
            prev = ch
        skips = enc[-2::-1]  # encoder stages 3, 2, 1, 0 feed decoder stages 0, 1, 2, 3
        self.decoder = nn.ModuleList()
        for ch, n, skip in zip(dec, _DEC_BLOCKS, skips):
            stride = 2 if (decoder == "official" and n == 3) else 1
            self.decoder.append(_stage(prev + skip, ch, n, stride, bn_momentum))
            prev = ch
        self.head = nn.Conv2d(prev, in_channels, 1)

    @property
    def size_divisor(self) -> int:
        """Input height and width must be multiples of this (four stride-2 encoder stages)."""
        return 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"DUNET expects (N, {self.in_channels}, H, W) images, got shape {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.size_divisor or w % self.size_divisor:
            raise ValueError(
                f"DUNET needs height and width divisible by {self.size_divisor}, got {h}x{w}; "
                "resize or pad the images (CIFAR/SVHN are 32x32)"
            )
        x = to_model_dtype(x, self)  # float64 / float16 / bfloat16 images: the network's dtype
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        for stage, skip in zip(self.decoder, skips[-2::-1]):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        return self.head(x)

    def purify(self, x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """The denoised image ``clamp(x + C(x), 0, 1)``."""
        return purify(self, x, clamp)


class ZeroResidual(nn.Module):
    """The identity purifier (C(x) = 0): a bare classifier in DefendedClassifier's clothes, for reference rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


@register_model(task="denoiser")
def dunet(in_channels: int = 3, width: int = 64, decoder: str = "official", bn_momentum: float = 0.9) -> DUNET:
    """The CAFD/HGD DUNET denoiser, official layout (11.04M parameters at width 64)."""
    return DUNET(in_channels, width, decoder, bn_momentum)  # type: ignore[arg-type]
