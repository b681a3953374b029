"""VGG-19 for 32x32 inputs, laid out exactly as the official CAFD code's CIFAR variant.

conv cfg 64,64,M,128,128,M,256x4,M,512x4,M,512x4,M, each conv 3x3 (bias) + BN + ReLU, then a single
Linear(512, classes): 20,040,522 parameters for 10 classes.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ._registry import register_model
from .normalization import Normalize, ReleaseInputChecks

_VGG19_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)


class VGG(ReleaseInputChecks, nn.Module):
    """CIFAR VGG; ``forward_features`` returns the raw output of the last convolution (pre-BN).

    That pre-BN map (512 x 2 x 2 at 32x32) is the layer the official code hooks for its class
    activation features (``features.49``), so the zoo's F is the official F.
    """

    cam_layer = "features.49"
    input_size = (3, 32, 32)

    def __init__(
        self,
        cfg: Sequence[int | str] = _VGG19_CFG,
        num_classes: int = 10,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.normalize = Normalize(mean, std)
        layers: list[nn.Module] = []
        in_ch = 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(v), 3, padding=1), nn.BatchNorm2d(int(v)), nn.ReLU(inplace=True)]
                in_ch = int(v)
        self.features = nn.Sequential(*layers)
        self.num_features = in_ch
        self.classifier = nn.Linear(in_ch, num_classes)
        # index of the last conv inside `features`; everything after it belongs to the head
        self._last_conv = max(i for i, m in enumerate(self.features) if isinstance(m, nn.Conv2d))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        return self.features[: self._last_conv + 1](x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        x = self.features[self._last_conv + 1:](features)
        return self.classifier(torch.flatten(x, 1))

    def get_classifier(self) -> nn.Linear:
        return self.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def vgg19(num_classes: int = 10, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> VGG:
    """VGG-19 (CIFAR variant of the official CAFD code), 20.04M parameters at 10 classes."""
    return VGG(_VGG19_CFG, num_classes=num_classes, mean=mean, std=std)
