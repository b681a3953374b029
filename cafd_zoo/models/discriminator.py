"""The discriminator D of CAFD's adversarial loss: the official VGG-style network for 32x32 images.

The official code adapts BasicSR's ``VGGStyleDiscriminator128`` to 32x32 inputs with four stages,
each a 3x3 stride-1 conv and a 4x4 stride-2 conv, then two linear layers. Only the very first conv
has a bias and no BN; every other conv is bias-free and followed by an affine BatchNorm; every
activation is LeakyReLU(0.2). At ``num_feat=32`` (the official ``Discriminator(3, 32)``) it has
899,465 parameters. Initialisation is PyTorch's default, as in the official code.

Layout (channels for ``num_feat = n``): stage 0: 3->n, n->n; stage 1: n->2n, 2n->2n; stage 2:
2n->4n, 4n->4n; stage 3: 4n->4n, 4n->4n; then Linear(4n * 2 * 2, 100), Linear(100, 1): one raw
logit per image.
"""
from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model

_SLOPE = 0.2


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, 1, bias=False),
        nn.BatchNorm2d(out_ch, affine=True),
        nn.LeakyReLU(_SLOPE, inplace=True),
    )


class VGGDiscriminator(nn.Module):
    """D(x): a raw realness logit (B, 1) for each 32x32 image of ``x`` (float, [0, 1], NCHW)."""

    input_size = 32

    def __init__(self, in_channels: int = 3, num_feat: int = 32) -> None:
        super().__init__()
        if in_channels < 1 or num_feat < 1:
            raise ValueError(f"in_channels and num_feat must be >= 1, got {in_channels} and {num_feat}")
        n = num_feat
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, n, 3, 1, 1, bias=True),  # conv0_0: the only biased conv, no BN
            nn.LeakyReLU(_SLOPE, inplace=True),
            _conv_bn(n, n, 4, 2),  # conv0_1 -> 16x16
            _conv_bn(n, 2 * n, 3, 1),  # conv1_0
            _conv_bn(2 * n, 2 * n, 4, 2),  # conv1_1 -> 8x8
            _conv_bn(2 * n, 4 * n, 3, 1),  # conv2_0
            _conv_bn(4 * n, 4 * n, 4, 2),  # conv2_1 -> 4x4
            _conv_bn(4 * n, 4 * n, 3, 1),  # conv3_0
            _conv_bn(4 * n, 4 * n, 4, 2),  # conv3_1 -> 2x2
        )
        self.linear1 = nn.Linear(4 * n * 2 * 2, 100)
        self.activation = nn.LeakyReLU(_SLOPE, inplace=True)
        self.linear2 = nn.Linear(100, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.input_size
        if x.dim() != 4 or x.shape[1] != self.in_channels or tuple(x.shape[-2:]) != (size, size):
            raise ValueError(
                f"VGGDiscriminator takes (N, {self.in_channels}, {size}, {size}) images (its linear layer is "
                f"sized for {size}x{size}), got shape {tuple(x.shape)}"
            )
        x = self.features(x)
        return self.linear2(self.activation(self.linear1(torch.flatten(x, 1))))


@register_model(task="discriminator")
def vgg_discriminator(in_channels: int = 3, num_feat: int = 32) -> VGGDiscriminator:
    """CAFD's official discriminator for 32x32 images (899,465 parameters at num_feat=32)."""
    return VGGDiscriminator(in_channels, num_feat)
