"""DefendedClassifier: a residual denoiser in front of a classifier, as one attackable module."""
from __future__ import annotations

import torch
from torch import nn

from ..input_checks import check_image_batch, to_model_dtype
from .denoiser import purify


class DefendedClassifier(nn.Module):
    """``forward(x) = classifier(clamp(x + denoiser(x), 0, 1))``: deterministic and differentiable.

    Takes float RGB in [0, 1] (NCHW) and returns logits, the convention of AutoAttack,
    torchattacks and RobustBench, so every attack library runs on it as is. float64, float16 and
    bfloat16 batches are cast to the denoiser's dtype (float32 logits for a float32 model). ``.denoiser`` and
    ``.classifier`` stay reachable for oblivious and BPDA evaluations; ``.purify(x)`` gives the
    denoised image. Call ``.eval()`` before evaluating: the denoiser uses batch norm.

    Args:
        denoiser: a module returning the residual C(x) of the image it is given.
        classifier: a module mapping [0, 1] images to logits.
        input_size: (H, W) the defense was trained at; other sizes are rejected. ``None`` lets any
            size through that both networks accept.
        clamp: clamp the purified image to [0, 1] (the official code does not: ``clamp=False``).
        check_inputs: validate every batch (type, shape, range, finiteness); one cheap reduction.
    """

    def __init__(
        self,
        denoiser: nn.Module,
        classifier: nn.Module,
        *,
        input_size: tuple[int, int] | None = (32, 32),
        clamp: bool = True,
        check_inputs: bool = True,
    ) -> None:
        super().__init__()
        for name, module in (("denoiser", denoiser), ("classifier", classifier)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
        self.denoiser = denoiser
        self.classifier = classifier
        self.input_size = tuple(input_size) if input_size is not None else None
        self.clamp = clamp
        self.check_inputs = check_inputs
        self.in_channels = getattr(denoiser, "in_channels", 3)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if self.check_inputs:
            check_image_batch(x, channels=self.in_channels, size=self.input_size)
        return to_model_dtype(x, self.denoiser)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        """The denoised image ``clamp(x + C(x), 0, 1)``."""
        return purify(self.denoiser, self._check(x), self.clamp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.purify(x))

    # The classifier's class activation features, seen through the denoiser: what CAFA attacks end to end.
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.forward_features(self.purify(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier.forward_head(features)

    def get_classifier(self) -> nn.Module:
        return self.classifier.get_classifier()
