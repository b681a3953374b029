"""Any timm classifier as a zoo classifier: ``create_model("timm:resnet18", num_classes=10, mean=..., std=...)``.

The wrapper adds what every zoo classifier has (inputs in [0, 1] with the normalisation inside as
buffers) and keeps timm's ``forward_features`` / ``forward_head`` / ``get_classifier``, so class
activation features, CAFA, train-classifier, train-denoiser and finetune-denoiser all take it as is.
Weights are never downloaded here (``pretrained=False``); train them, or load a file.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .normalization import Normalize, ReleaseInputChecks

PREFIX = "timm:"


class TimmClassifier(ReleaseInputChecks, nn.Module):
    """``net`` is the timm model; ``normalize`` maps [0, 1] inputs to what it was trained on."""

    input_size = (3, 32, 32)

    def __init__(self, name: str, num_classes: int = 10, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, **kwargs: Any) -> None:
        super().__init__()
        import timm

        if not timm.is_model(name):
            raise KeyError(f"timm has no model {name!r}; `timm.list_models('*{name[:4]}*')` lists similar ones")
        self.timm_name = name
        self.normalize = Normalize(mean, std)
        self.net = timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
        if not isinstance(self.net.get_classifier(), nn.Linear):
            raise ValueError(f"timm model {name!r} does not end in one nn.Linear, "
                             "so it has no class activation features")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(self.normalize(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.net.forward_head(features)

    def get_classifier(self) -> nn.Linear:
        return self.net.get_classifier()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
