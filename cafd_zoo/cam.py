"""Class activation features: F (last-conv features), W (class weights), Phi = F * W per channel.

Three ways to reach F and W, tried in this order:

1. ``layer=None`` and the model has ``forward_features`` / ``forward_head`` / ``get_classifier``
   (every zoo classifier, and every timm classifier): one forward pass, no hooks.
2. ``layer="name.of.module"``: a forward hook on that submodule of any ``nn.Module``; W comes from
   ``classifier`` (a module or its name), else ``get_classifier()``, else the model's last
   ``nn.Linear``.

W is the row of the final linear layer for the class the model predicts on that same input
(or for the classes given). Phi keeps all K channels: there is no channel sum (that is the CAM).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .input_checks import check_image_batch, first_conv_channels, to_model_dtype


@dataclass(frozen=True)
class ClassActivation:
    """What one pass yields: F (B, K, h, w), W rows (B, K), the classes used (B,), logits (B, classes)."""

    features: torch.Tensor
    class_weights: torch.Tensor
    classes: torch.Tensor
    logits: torch.Tensor

    @property
    def phi(self) -> torch.Tensor:
        """Phi = F * W, per channel: (B, K, h, w)."""
        return self.features * self.class_weights[:, :, None, None].to(self.features.dtype)


def _find_linear(model: nn.Module, classifier: nn.Module | str | None) -> nn.Linear:
    if isinstance(classifier, str):
        classifier = model.get_submodule(classifier)
    if classifier is None and hasattr(model, "get_classifier"):
        classifier = model.get_classifier()
    if classifier is None:
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        classifier = linears[-1] if linears else None
    if not isinstance(classifier, nn.Linear):
        raise ValueError(
            "class activation features need the model's final nn.Linear (found "
            f"{type(classifier).__name__}); pass classifier=<the Linear module or its name>"
        )
    return classifier


class ClassActivationFeatures:
    """Computes :class:`ClassActivation` for a classifier; see the module docstring for how.

    Args:
        model: the classifier, taking the images the caller gives it and returning logits.
        layer: name of the submodule whose output is F (hook path). ``None`` uses
            ``model.forward_features`` (zoo and timm classifiers).
        classifier: the final linear layer (module or name), when it cannot be found by itself.
    """

    def __init__(self, model: nn.Module, layer: str | None = None, classifier: nn.Module | str | None = None) -> None:
        self.model = model
        self.layer = layer
        if layer is None:
            missing = [a for a in ("forward_features", "forward_head") if not hasattr(model, a)]
            if missing:
                raise ValueError(
                    f"{type(model).__name__} has no {' / '.join(missing)}; pass layer='<name of the "
                    "module whose output is the last conv feature map>' to use a forward hook"
                )
            self._layer_module: nn.Module | None = None
        else:
            self._layer_module = model.get_submodule(layer)  # raises AttributeError naming the missing part
        self.linear = _find_linear(model, classifier)

    def __call__(self, x: torch.Tensor, classes: torch.Tensor | None = None) -> ClassActivation:
        features, logits = self._features_and_logits(to_model_dtype(x, self.model))
        if features.dim() != 4:
            raise ValueError(f"expected a (B, K, h, w) feature map, got shape {tuple(features.shape)}")
        if features.shape[1] != self.linear.in_features:
            raise ValueError(
                f"the feature map has {features.shape[1]} channels but the final linear layer takes "
                f"{self.linear.in_features} inputs; choose the layer that feeds global pooling"
            )
        if classes is None:
            classes = logits.detach().argmax(dim=1)
        else:
            classes = torch.as_tensor(classes, device=logits.device).long().flatten()
            if classes.numel() != logits.shape[0]:
                raise ValueError(f"got {classes.numel()} classes for a batch of {logits.shape[0]}")
            if classes.min() < 0 or classes.max() >= self.linear.out_features:
                raise ValueError(f"classes must lie in [0, {self.linear.out_features}), got {classes.tolist()}")
        return ClassActivation(features, self.linear.weight[classes], classes, logits)

    def phi(self, x: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """Phi = F * W for ``x`` (classes predicted on ``x`` unless given)."""
        return self(x, classes).phi

    def _features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._layer_module is None:
            features = self.model.forward_features(x)
            return features, self.model.forward_head(features)
        captured: list[torch.Tensor] = []
        handle = self._layer_module.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            logits = self.model(x)
        finally:
            handle.remove()
        if len(captured) != 1:
            raise RuntimeError(f"layer {self.layer!r} ran {len(captured)} times in one forward pass; expected once")
        return captured[0], logits


def class_activation_map(
    model_or_features: nn.Module | ClassActivationFeatures,
    x: torch.Tensor,
    classes: torch.Tensor | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """CAM for pictures (paper Figure 1): ReLU of the channel sum of Phi, bilinearly upsampled to
    ``size`` (default: the input's), min-max normalised to [0, 1] per image. Returns (B, H, W), float32.

    ``x`` is checked like a ``DefendedClassifier`` input (NaN or 0-255 images would give a
    meaningless picture), with the channel count of the model's first conv."""
    extractor = (
        model_or_features
        if isinstance(model_or_features, ClassActivationFeatures)
        else ClassActivationFeatures(model_or_features)
    )
    check_image_batch(x, channels=first_conv_channels(extractor.model), what="class_activation_map input")
    with torch.no_grad():
        cam = extractor(x, classes).phi.float().sum(dim=1, keepdim=True).relu()
        cam = F.interpolate(cam, size=size or tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
        flat = cam.flatten(1)
        lo, hi = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
        flat = (flat - lo) / (hi - lo).clamp_min(1e-12)
    return flat.view(cam.shape[0], *cam.shape[-2:])
