"""HGD's guided loss (Liao et al., CVPR 2018): the denoiser is judged by what the frozen classifier sees.

    L = mean | f_l(x_hat) - f_l(x) |          (the L1 distance, exponent n = 1, averaged over every element)

with x_hat = purify(C, x_adv), x the natural image and f_l the output of layer l of the frozen target model:

- ``layer="logits"``: LGD, the logit-guided denoiser (f_l = the logits; HGD's best variant);
- ``layer="features"``: FGD, the feature-guided denoiser (f_l = the last conv feature map,
  ``forward_features``, which every zoo and timm classifier has).

The natural image's f_l is the target: computed without a graph. The distance is taken in fp32, whatever
autocast the classifier ran under.
"""
from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

GuidedLayer = Literal["logits", "features"]
GUIDED_LAYERS: tuple[str, ...] = get_args(GuidedLayer)


def guided_output(classifier: nn.Module, x: torch.Tensor, layer: GuidedLayer) -> torch.Tensor:
    """f_l(x): the classifier's logits, or its last conv feature map."""
    if layer == "logits":
        return classifier(x)
    if layer == "features":
        if not hasattr(classifier, "forward_features"):
            raise ValueError(f"FGD needs the classifier's last conv features, but {type(classifier).__name__} has no "
                             "forward_features; use layer='logits' (LGD)")
        return classifier.forward_features(x)
    raise ValueError(f"guided layer must be one of {list(GUIDED_LAYERS)}, got {layer!r}")


def guided_denoiser_loss(classifier: nn.Module, purified: torch.Tensor, natural: torch.Tensor,
                         layer: GuidedLayer = "logits") -> tuple[torch.Tensor, torch.Tensor]:
    """(L, f_l(purified)): HGD's loss of the module docstring, and the purified images' f_l (for logging)."""
    with torch.no_grad():
        target = guided_output(classifier, natural, layer)
    current = guided_output(classifier, purified, layer)
    loss = (current.float() - target.float()).abs().mean()
    return loss, current
