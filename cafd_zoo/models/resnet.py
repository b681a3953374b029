"""CIFAR ResNets for 32x32 inputs (3x3 stem, no max-pool).

``resnet50`` is the standard CIFAR ResNet-50 (bottleneck [3, 4, 6, 3], 23.5M parameters).
The official CAFD code's "ResNet-50" is a different, 0.55M-parameter 3-stage net (planes
16/32/64, biased convs); it is here as ``resnet50_cafd_official`` so its numbers can be compared.
``resnet20`` (He et al. 2016, 0.27M parameters) is the compact classifier of the embedded release.

``forward_features`` returns the map that feeds global average pooling (after the last residual
add and ReLU). With GAP + Linear on top, sum_k W_ck F_k is then exactly the CAM of Zhou et al.
2016; the official code instead hooks the last ``nn.Conv2d`` (before the residual add), which is
still available through ``ClassActivationFeatures(model, layer=...)``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import register_model
from .normalization import Normalize, ReleaseInputChecks


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (He et al. 2016): ResNet-20's block."""
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1, bias: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes, stride, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1-3x3-1x1 convolutions with a shortcut, four times wider out: ResNet-50's block."""
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1, bias: bool = False) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=bias)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = _shortcut(in_planes, out_planes, stride, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


def _shortcut(in_planes: int, out_planes: int, stride: int, bias: bool) -> nn.Module:
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=bias), nn.BatchNorm2d(out_planes))


class CifarResNet(ReleaseInputChecks, nn.Module):
    """A ResNet with a 3x3 stem and one stage per entry of ``blocks``/``widths`` (first stride 1, then 2)."""

    input_size = (3, 32, 32)

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        blocks: Sequence[int],
        widths: Sequence[int],
        stem_width: int,
        num_classes: int = 10,
        bias: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if len(blocks) != len(widths):
            raise ValueError(f"{len(blocks)} stage depths but {len(widths)} stage widths")
        self.num_classes = num_classes
        self.normalize = Normalize(mean, std)
        self.conv1 = nn.Conv2d(3, stem_width, 3, 1, 1, bias=bias)
        self.bn1 = nn.BatchNorm2d(stem_width)
        in_planes = stem_width
        stages = []
        for i, (n, planes) in enumerate(zip(blocks, widths)):
            layers = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(block(in_planes, planes, stride, bias))
                in_planes = planes * block.expansion
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.num_features = in_planes
        self.fc = nn.Linear(in_planes, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(self.normalize(x))))
        return self.layers(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1))

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def resnet50(num_classes: int = 10, mean: Sequence[float] | None = None,
             std: Sequence[float] | None = None) -> CifarResNet:
    """Standard CIFAR ResNet-50: bottleneck [3, 4, 6, 3], 3x3 stem, 23.52M parameters at 10 classes."""
    return CifarResNet(Bottleneck, (3, 4, 6, 3), (64, 128, 256, 512), 64, num_classes, False, mean, std)


@register_model
def resnet50_cafd_official(
    num_classes: int = 10, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> CifarResNet:
    """The official CAFD code's "ResNet-50": 3 bottleneck stages [3, 4, 6] of 16/32/64 planes, biased convs (0.55M)."""
    return CifarResNet(Bottleneck, (3, 4, 6), (16, 32, 64), 16, num_classes, True, mean, std)


@register_model
def resnet20(num_classes: int = 10, mean: Sequence[float] | None = None,
             std: Sequence[float] | None = None) -> CifarResNet:
    """CIFAR ResNet-20 (He et al. 2016): basic blocks [3, 3, 3] of 16/32/64 channels, 0.27M parameters."""
    return CifarResNet(BasicBlock, (3, 3, 3), (16, 32, 64), 16, num_classes, False, mean, std)
