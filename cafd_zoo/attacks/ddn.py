"""DDN, decoupled direction and norm (Rony et al. 2019): a minimum-L2-norm attack, the paper's DDN column.

Each step moves along the normalised gradient of the cross-entropy (step size annealed from 1 to
0.01 by a cosine), then projects onto the L2 sphere of radius epsilon, which shrinks by a factor
1 - gamma while the current point is adversarial and grows by 1 + gamma while it is not; points are
kept on the 8-bit grid (``levels=256``). Returns, per image, the smallest adversarial perturbation
found; an image it never fooled is returned unchanged (not an arbitrary last iterate). Parameters
are those of the paper's code: 100 steps, gamma 0.05, initial norm 1.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..frozen import frozen
from ..input_checks import check_image_batch
from .registry import only, register_attack


def _l2(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1)


def _per_image(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.dim() - 1)))


def ddn(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int = 100,
    gamma: float = 0.05,
    init_norm: float = 1.0,
    levels: int | None = 256,
    max_norm: float | None = None,
) -> torch.Tensor:
    """Minimum-L2 adversarial examples for ``x`` (in [0, 1]); ``max_norm`` discards larger ones (a budget)."""
    if steps < 1 or not 0 < gamma < 1 or init_norm <= 0:
        raise ValueError(f"need steps >= 1, 0 < gamma < 1, init_norm > 0; got {steps}, {gamma}, {init_norm}")
    check_image_batch(x, channels=None, what="DDN input")
    x = x.detach()
    n = len(x)
    delta = torch.zeros_like(x, requires_grad=True)
    radius = torch.full((n,), init_norm, device=x.device)
    best_norm = torch.full((n,), math.inf, device=x.device)
    best_delta = torch.zeros_like(x)
    with frozen(model):
        for i in range(steps):
            step = 0.01 + (1 - 0.01) * (1 + math.cos(math.pi * i / steps)) / 2
            logits = model(x + delta).float()
            loss = F.cross_entropy(logits, labels, reduction="sum")
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                norm = _l2(delta)
                adversarial = logits.argmax(1) != labels
                better = adversarial & (norm < best_norm)
                best_norm = torch.where(better, norm, best_norm)
                best_delta[better] = delta[better]
                grad = grad / _per_image(_l2(grad).clamp_min(1e-12), grad)
                moved = delta + step * grad
                radius = torch.where(adversarial, radius * (1 - gamma), radius * (1 + gamma))
                radius = torch.minimum(radius, _l2(torch.maximum(x, 1 - x)))  # no farther than the cube's corner
                moved = moved * _per_image(radius / _l2(moved).clamp_min(1e-12), moved)
                candidate = (x + moved).clamp(0, 1)
                if levels is not None:
                    candidate = (candidate * (levels - 1)).round() / (levels - 1)
                delta.copy_(candidate - x)
        with torch.no_grad():  # the last iterate counts too
            adversarial = model(x + delta).argmax(1) != labels
            norm = _l2(delta)
            better = adversarial & (norm < best_norm)
            best_delta[better] = delta.detach()[better]
            best_norm = torch.where(better, norm, best_norm)
    if max_norm is not None:
        best_delta[best_norm > max_norm] = 0
    return (x + best_delta).clamp(0, 1)


def ddn_minimum_norm(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, steps: int = 100, gamma: float = 0.05,
                     init_norm: float = 1.0, levels: int | None = 256, norm: str = "L2",
                     budget: str = "none (minimum norm)", generator: torch.Generator | None = None) -> torch.Tensor:
    """DDN with no norm budget (deterministic: ``generator`` is unused)."""
    only("ddn", norm=(norm, "L2"), budget=(budget, "none (minimum norm)"))
    return ddn(model, x, labels, steps=steps, gamma=gamma, init_norm=init_norm, levels=levels)


register_attack("ddn", ddn_minimum_norm,
                {"norm": "L2", "budget": "none (minimum norm)", "steps": 100, "gamma": 0.05, "init_norm": 1.0,
                 "levels": 256}, steps="steps", summary="minimum-norm DDN-L2, 100 steps")
