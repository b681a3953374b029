"""Wide ResNets (Zagoruyko & Komodakis 2016) with pre-activation blocks, as in the official CAFD code.

Block: BN-ReLU-conv3x3-dropout-BN-ReLU-conv3x3(stride) plus a 1x1 conv shortcut (no BN) when the
shape changes; biased convs; final BN-ReLU, global average pool, Linear. WRN-28-20 has
145,835,690 parameters (the paper's target), WRN-28-10 36,489,290 (the official training default).
The official final BN uses momentum 0.9 (a Keras-style value); ``final_bn_momentum`` keeps it available.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import register_model
from .normalization import Normalize, ReleaseInputChecks


class WideBasic(nn.Module):
    """Pre-activation wide block (Zagoruyko and Komodakis), with dropout between its convolutions."""
    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.dropout(self.conv1(F.relu(self.bn1(x))))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + self.shortcut(x)


class WideResNet(ReleaseInputChecks, nn.Module):
    """WRN-depth-k; ``forward_features`` returns the final BN-ReLU map that feeds global pooling."""

    input_size = (3, 32, 32)

    def __init__(
        self,
        depth: int = 28,
        widen_factor: int = 10,
        num_classes: int = 10,
        dropout: float = 0.3,
        final_bn_momentum: float = 0.1,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ValueError(f"WideResNet depth must be 6n+4 with n >= 1, got {depth}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        n = (depth - 4) // 6
        widths = (16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor)
        self.num_classes = num_classes
        self.normalize = Normalize(mean, std)
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1)
        in_planes = widths[0]
        stages = []
        for i, planes in enumerate(widths[1:]):
            blocks = []
            for j in range(n):
                blocks.append(WideBasic(in_planes, planes, 2 if (i > 0 and j == 0) else 1, dropout))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(in_planes, momentum=final_bn_momentum)
        self.num_features = in_planes
        self.fc = nn.Linear(in_planes, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.conv1(self.normalize(x)))
        return F.relu(self.bn(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def wrn28_20(num_classes: int = 10, dropout: float = 0.3, **kwargs) -> WideResNet:
    """WideResNet-28-20, the paper's target model: 145.84M parameters at 10 classes."""
    return WideResNet(28, 20, num_classes, dropout, **kwargs)


@register_model
def wrn28_10(num_classes: int = 10, dropout: float = 0.3, **kwargs) -> WideResNet:
    """WideResNet-28-10, the official training script's default width: 36.49M parameters at 10 classes."""
    return WideResNet(28, 10, num_classes, dropout, **kwargs)


@register_model
def wrn16_4(num_classes: int = 10, dropout: float = 0.0, **kwargs) -> WideResNet:
    """WideResNet-16-4: 2.75M parameters at 10 classes, a compact robust classifier (5.5 MB in fp16) for
    adversarial training on a CPU budget; no dropout by default, as in adversarial training recipes."""
    return WideResNet(16, 4, num_classes, dropout, **kwargs)
