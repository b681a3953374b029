"""L-inf PGD (Madry et al. 2018) with cross-entropy: the reference gradient attack of the demo and tests.

Non-targeted by default; ``targets=`` makes it targeted (descend the loss of the target class).
The model's mode, parameters and gradients are left as found.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..frozen import frozen
from ..input_checks import check_image_batch


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 8 / 255,
    steps: int = 20,
    step_size: float = 2 / 255,
    random_start: bool = True,
    targets: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Adversarial examples for ``x`` within ``eps`` (L-inf) and [0, 1]."""
    if not 0 < eps <= 1 or steps < 1 or step_size <= 0:
        raise ValueError(f"need 0 < eps <= 1, steps >= 1, step_size > 0; got {eps}, {steps}, {step_size}")
    check_image_batch(x, channels=None, what="PGD input")
    x = x.detach()
    goal, sign = (labels, 1.0) if targets is None else (targets, -1.0)
    with frozen(model):
        delta = torch.zeros_like(x)
        if random_start:
            delta.uniform_(-eps, eps, generator=generator)
            delta = (x + delta).clamp(0, 1) - x
        delta.requires_grad_(True)
        for _ in range(steps):
            loss = F.cross_entropy(model(x + delta).float(), goal)
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                delta += sign * step_size * grad.sign()
                delta.clamp_(-eps, eps)
                delta.copy_((x + delta).clamp_(0, 1) - x)
    return (x + delta.detach()).clamp_(0, 1)
