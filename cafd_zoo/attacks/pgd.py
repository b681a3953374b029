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
from .registry import OFFICIAL_TARGET, official_targets, only, register_attack


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


def pgd_untargeted(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, eps: float, steps: int,
                   step_size: float, random_start: bool = True, norm: str = "Linf",
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """PGD_N of the evaluation and AT; BIM (Kurakin et al.) is the same without the random start."""
    only("pgd", norm=(norm, "Linf"))
    return pgd(model, x, labels, eps=eps, steps=steps, step_size=step_size, random_start=random_start,
               generator=generator)


def pgd_official_target(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, eps: float, steps: int,
                        step_size: float, random_start: bool = True, norm: str = "Linf", target: str = OFFICIAL_TARGET,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """PGD_T: aims at the official code's target class (3, or 1 when the label is 3)."""
    only("pgd_t", norm=(norm, "Linf"), target=(target, OFFICIAL_TARGET))
    return pgd(model, x, labels, eps=eps, steps=steps, step_size=step_size, random_start=random_start,
               targets=official_targets(labels), generator=generator)


_PGD = {"norm": "Linf", "eps": 8 / 255, "steps": 20, "step_size": 2 / 255, "random_start": True}
_BUDGET = {"eps": "eps", "steps": "steps", "step_size": "step_size"}
register_attack("pgd_n", pgd_untargeted, _PGD, **_BUDGET, summary="L-inf PGD-20, cross-entropy, random start")
register_attack("pgd_t", pgd_official_target, _PGD | {"target": OFFICIAL_TARGET}, **_BUDGET,
                summary="targeted L-inf PGD-20 (official target class)")
register_attack("bim", pgd_untargeted, {"eps": 8 / 255, "steps": 10, "random_start": False, "step_size": 0.8 / 255},
                **_BUDGET, derived=lambda p: {"step_size": p["eps"] / p["steps"]},
                summary="BIM / iterative FGSM: PGD without random start, step eps / steps")
