"""The gray-box threat model's surrogate: another denoiser in front of the same classifier (paper Table 3, bottom).

The attacker knows the classifier and the defense's design, not the deployed denoiser's weights: it
trains its own denoiser (``training/configs/denoiser/*_surrogate.yaml``), crafts on
DefendedClassifier(surrogate, classifier), and the examples are judged on the real defended model.
The surrogate's identity (what was passed, and the sha256 of its weights) goes into every gray-box row.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..models import DefendedClassifier


@dataclass(frozen=True)
class Surrogate:
    """The model the gray-box attack runs on, and what identifies it in the results."""

    model: DefendedClassifier
    identity: dict[str, str]


def surrogate_for(denoiser: nn.Module, defended: DefendedClassifier, identity: dict[str, str]) -> Surrogate:
    """DefendedClassifier(``denoiser``, ``defended``'s classifier), refused when ``denoiser`` holds the defended
    model's own weights (that would be the white-box threat model under another name)."""
    if _same_weights(denoiser, defended.denoiser):
        raise ValueError(f"the surrogate {identity.get('source')} holds the defended model's own denoiser: that is "
                         "--threat whitebox, not graybox; pass a separately trained denoiser")
    device = next(defended.classifier.parameters()).device
    model = DefendedClassifier(denoiser.to(device), defended.classifier, input_size=defended.input_size,
                               clamp=defended.clamp).eval()
    return Surrogate(model, identity)


def release_surrogate(name: str, defended: DefendedClassifier) -> Surrogate:
    """The denoiser of zoo release ``name`` (a defended or denoiser release; downloaded and sha256-checked)."""
    from ..hub import load, model_info

    info = model_info(name)
    if "denoiser" not in info["files"]:
        raise ValueError(f"{name} is a {info['kind']} release with no denoiser to use as a surrogate")
    model = load(name)
    denoiser = model.denoiser if info["kind"] == "defended" else model
    return surrogate_for(denoiser, defended, {"source": name, "sha256": info["files"]["denoiser"]["sha256"]})


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)
