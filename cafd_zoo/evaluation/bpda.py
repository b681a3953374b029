"""BPDA (Athalye et al. 2018): the defended model with the purifier's backward pass replaced by identity.

The forward pass is the real one, classifier(purify(x)); the gradient with respect to x is the bare
classifier's gradient at the purified point, as if purification were the identity map.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import DefendedClassifier


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, purified: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return purified

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad, None


class BPDADefendedClassifier(nn.Module):
    """``forward(x) = classifier(purify(x))`` with d purify / dx taken as the identity."""

    def __init__(self, defended: DefendedClassifier) -> None:
        super().__init__()
        self.defended = defended

    def _purified(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            purified = self.defended.purify(x)
        return _StraightThrough.apply(x, purified)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.defended.classifier(self._purified(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.defended.classifier.forward_features(self._purified(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.defended.classifier.forward_head(features)

    def get_classifier(self) -> nn.Module:
        return self.defended.classifier.get_classifier()
