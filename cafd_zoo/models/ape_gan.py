"""APE-G (Jin et al., ICASSP 2019; APE-GAN, Shen et al. 2017): a small encoder-decoder generator G that maps an
adversarial image back to a clean one, trained against a discriminator D.

The layout is APE-GAN's reference network (owruby/APE-GAN, MNIST), adapted to 3-channel 32x32 images in [0, 1]:

- G: conv 4x4/2 (w) + BN + LeakyReLU -> conv 4x4/2 (2w) + BN + LeakyReLU -> transposed conv 4x4/2 (w) + BN +
  LeakyReLU -> transposed conv 4x4/2 (3) -> **sigmoid**, so G(x) lies in [0, 1] like the data. The reference
  ends in tanh, whose range [-1, 1] does not match its own [0, 1] data; sigmoid(z) = (tanh(z / 2) + 1) / 2
  is the same family of outputs rescaled to the data's range. 32 -> 16 -> 8 -> 16 -> 32: H and W must be
  multiples of 4.
- D: three unpadded 3x3 stride-2 convs (w, 2w, 4w; BN on the last two; LeakyReLU) -> a linear layer: one raw
  realness *logit* per image. The reference applies the sigmoid inside D; here the loss folds it in
  (BCE with logits, the same value, stable in bf16). At 32x32 the feature map is 4w x 3 x 3.

The zoo's denoisers predict a residual (``DefendedClassifier`` purifies as ``clamp(x + C(x), 0, 1)``), so
:class:`APEGenerator` returns ``G(x) - x`` from ``forward``: the purified image is then G(x) itself (G(x) is
already in [0, 1], and x + (G(x) - x) equals G(x) up to one float rounding). :meth:`APEGenerator.generate`
gives G(x) directly. LeakyReLU slope 0.01 (PyTorch's default, which the reference uses).
"""
from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model


def _block(layer: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(layer, nn.BatchNorm2d(channels), nn.LeakyReLU())


class APEGenerator(nn.Module):
    """APE-G's generator G behind the zoo's residual-denoiser interface: ``forward(x) = G(x) - x``."""

    size_divisor = 4

    def __init__(self, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        if in_channels < 1 or width < 1:
            raise ValueError(f"in_channels and width must be >= 1, got {in_channels} and {width}")
        self.in_channels = in_channels
        self.width = width
        self.encoder = nn.Sequential(
            _block(nn.Conv2d(in_channels, width, 4, 2, 1), width),
            _block(nn.Conv2d(width, 2 * width, 4, 2, 1), 2 * width),
        )
        self.decoder = nn.Sequential(
            _block(nn.ConvTranspose2d(2 * width, width, 4, 2, 1), width),
            nn.ConvTranspose2d(width, in_channels, 4, 2, 1),
            nn.Sigmoid(),
        )

    def generate(self, x: torch.Tensor) -> torch.Tensor:
        """G(x): the reconstructed image, in [0, 1]."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"APEGenerator expects (N, {self.in_channels}, H, W) images, got shape {tuple(x.shape)}")
        if x.shape[-2] % self.size_divisor or x.shape[-1] % self.size_divisor:
            raise ValueError(f"APEGenerator needs height and width divisible by {self.size_divisor}, "
                             f"got {x.shape[-2]}x{x.shape[-1]}")
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The residual G(x) - x, so that ``purify(x) = clamp(x + (G(x) - x), 0, 1) = G(x)``."""
        return self.generate(x) - x

    def purify(self, x: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """G(x) (``clamp`` is accepted for DUNET's signature; G's sigmoid already keeps [0, 1])."""
        return self.generate(x)


class APEDiscriminator(nn.Module):
    """APE-G's discriminator D: a raw realness logit (N, 1) per 32x32 image (sigmoid in the loss)."""

    input_size = 32

    def __init__(self, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        if in_channels < 1 or width < 1:
            raise ValueError(f"in_channels and width must be >= 1, got {in_channels} and {width}")
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 2), nn.LeakyReLU(),  # 32 -> 15
            _block(nn.Conv2d(width, 2 * width, 3, 2), 2 * width),  # -> 7
            _block(nn.Conv2d(2 * width, 4 * width, 3, 2), 4 * width),  # -> 3
        )
        self.linear = nn.Linear(4 * width * 3 * 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.input_size
        if x.dim() != 4 or x.shape[1] != self.in_channels or tuple(x.shape[-2:]) != (size, size):
            raise ValueError(f"APEDiscriminator takes (N, {self.in_channels}, {size}, {size}) images (its linear layer "
                             f"is sized for {size}x{size}), got shape {tuple(x.shape)}")
        return self.linear(torch.flatten(self.features(x), 1))


@register_model(task="denoiser")
def ape_gan_generator(in_channels: int = 3, width: int = 64) -> APEGenerator:
    """APE-G's generator as a residual denoiser (purify(x) = G(x)); sigmoid output for [0, 1] images."""
    return APEGenerator(in_channels, width)


@register_model(task="discriminator")
def ape_gan_discriminator(in_channels: int = 3, width: int = 64) -> APEDiscriminator:
    """APE-G's discriminator for 32x32 images: one realness logit per image."""
    return APEDiscriminator(in_channels, width)
