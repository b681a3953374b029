"""TI-DIM: momentum iterative FGSM (Dong et al. 2018) with input diversity (Xie et al. 2019) and
translation-invariant gradients (Dong et al. 2019), the transfer attack of the paper's Table 1.

Each step attacks a randomly shrunk and padded copy of the image (input diversity), smooths the
gradient with a Gaussian kernel (translation invariance), normalises it by its mean absolute value
and adds it to the momentum (decay 1.0). The kernel is sized for 32x32 images (7x7, sigma 3
standard deviations wide); the usual 15x15 is tuned for ImageNet's 299x299. L-inf, in [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..frozen import frozen
from ..input_checks import check_image_batch
from .registry import only, register_attack


def gaussian_kernel(size: int = 7, nsig: float = 3.0) -> torch.Tensor:
    """A (size, size) Gaussian kernel summing to 1, spanning ``nsig`` standard deviations each side."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the kernel size must be odd and positive, got {size}")
    points = torch.linspace(-nsig, nsig, size, dtype=torch.float64)
    density = torch.exp(-points.square() / 2)
    kernel = torch.outer(density, density)
    return (kernel / kernel.sum()).float()


def input_diversity(x: torch.Tensor, *, resize_rate: float, prob: float,
                    generator: torch.Generator | None) -> torch.Tensor:
    """With probability ``prob``, shrink ``x`` to a random side in [resize_rate * H, H) and pad it back
    to H x W at a random offset (one draw per batch, as the reference implementations do)."""
    device = generator.device if generator is not None else torch.device("cpu")

    def draw(low: int, high: int) -> int:
        return int(torch.randint(low, high, (), generator=generator, device=device))

    if torch.rand((), generator=generator, device=device).item() >= prob:
        return x
    size = x.shape[-1]
    side = draw(min(int(size * resize_rate), size - 1), size)
    shrunk = F.interpolate(x, size=(side, side), mode="nearest")
    left, top = draw(0, size - side + 1), draw(0, size - side + 1)
    return F.pad(shrunk, (left, size - side - left, top, size - side - top))


def ti_dim(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 8 / 255,
    steps: int = 10,
    step_size: float | None = None,
    decay: float = 1.0,
    kernel_size: int = 7,
    resize_rate: float = 0.9,
    diversity_prob: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Non-targeted TI-DIM adversarial examples for ``x`` within ``eps`` (L-inf) and [0, 1];
    ``step_size`` defaults to eps / steps, so the last step can reach the edge of the ball."""
    step_size = eps / steps if step_size is None else step_size
    if not 0 < eps <= 1 or steps < 1 or step_size <= 0 or not 0 < resize_rate <= 1 or not 0 <= diversity_prob <= 1:
        raise ValueError(f"need 0 < eps <= 1, steps >= 1, step_size > 0, 0 < resize_rate <= 1, "
                         f"0 <= diversity_prob <= 1; got {eps}, {steps}, {step_size}, {resize_rate}, {diversity_prob}")
    check_image_batch(x, channels=None, what="TI-DIM input")
    x = x.detach()
    channels = x.shape[1]
    kernel = gaussian_kernel(kernel_size).to(x.device).expand(channels, 1, kernel_size, kernel_size)
    momentum = torch.zeros_like(x)
    x_adv = x.clone()
    with frozen(model):
        for _ in range(steps):
            x_adv.requires_grad_(True)
            diverse = input_diversity(x_adv, resize_rate=resize_rate, prob=diversity_prob, generator=generator)
            loss = F.cross_entropy(model(diverse).float(), labels)
            (grad,) = torch.autograd.grad(loss, x_adv)
            with torch.no_grad():
                grad = F.conv2d(grad.float(), kernel, padding=kernel_size // 2, groups=channels)
                grad = grad / grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
                momentum = decay * momentum + grad
                x_adv = x_adv.detach() + step_size * momentum.sign()
                x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0, 1)
    return x_adv.detach()


def ti_dim_attack(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, eps: float, steps: int,
                  step_size: float, decay: float = 1.0, resize_rate: float = 0.9, diversity_prob: float = 0.5,
                  norm: str = "Linf", kernel: str = "gaussian 7x7, 3 sigma",
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """TI-DIM (Dong et al. 2019; Xie et al. 2019): momentum PGD whose gradient is smoothed by a Gaussian kernel and
    taken on randomly resized and padded copies, so the examples transfer."""
    only("ti_dim", norm=(norm, "Linf"), kernel=(kernel, "gaussian 7x7, 3 sigma"))
    return ti_dim(model, x, labels, eps=eps, steps=steps, step_size=step_size, decay=decay, kernel_size=7,
                  resize_rate=resize_rate, diversity_prob=diversity_prob, generator=generator)


register_attack("ti_dim", ti_dim_attack,
                {"norm": "Linf", "eps": 8 / 255, "steps": 10, "step_size": 0.8 / 255, "decay": 1.0,
                 "kernel": "gaussian 7x7, 3 sigma", "resize_rate": 0.9, "diversity_prob": 0.5},
                eps="eps", steps="steps", derived=lambda p: {"step_size": p["eps"] / p["steps"]},
                summary="TI-DIM: momentum, translation-invariant and input-diverse, 10 steps of eps / 10")
