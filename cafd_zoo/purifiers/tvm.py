"""Total variation minimisation (Guo et al. 2018, "Countering adversarial images using input transformations").

Keep each pixel with probability ``keep``, then reconstruct the image of least total variation that
agrees with the kept pixels:

    z* = argmin_z  || M * (z - x) ||_2^2  +  weight * TV(z),    M ~ Bernoulli(keep) per pixel (all channels)

TV is the isotropic total variation (sum over pixels of the norm of the forward differences,
smoothed by 1e-8 so it has a gradient at 0). The paper's baseline uses weight 0.003. Solved by
Adam from z = x on the whole batch at once (each image's objective is separate, so batching does not
couple them). The mask is random: evaluate with EOT, and seed ``generator`` for repeatable runs.
"""
from __future__ import annotations

import torch
from torch import nn

from ..input_checks import check_image_batch


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Isotropic total variation of each image of an NCHW batch: shape (N,)."""
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    return (dx[..., :-1, :].square() + dy[..., :, :-1].square() + 1e-8).sqrt().sum(dim=(1, 2, 3))


def tv_minimize(
    x: torch.Tensor,
    mask: torch.Tensor,
    *,
    weight: float = 0.003,
    steps: int = 100,
    lr: float = 0.01,
) -> torch.Tensor:
    """argmin_z ||mask * (z - x)||^2 + weight * TV(z) per image, by ``steps`` of Adam from x, clamped to [0, 1]."""
    if mask.shape[0] != x.shape[0] or mask.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} does not cover the batch {tuple(x.shape)}")
    target = x.detach().float()
    z = target.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            energy = (mask * (z - target)).square().sum() + weight * total_variation(z).sum()
            optimizer.zero_grad(set_to_none=True)
            energy.backward()
            optimizer.step()
            with torch.no_grad():
                z.clamp_(0, 1)
    return z.detach().to(x.dtype)


class TVMPurifier(nn.Module):
    """``forward(x) = tvm(x) - x`` with a fresh random pixel mask per call; no gradient (BPDA by construction)."""

    in_channels = 3

    def __init__(self, weight: float = 0.003, keep: float = 0.5, steps: int = 100, lr: float = 0.01,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not 0 < keep <= 1:
            raise ValueError(f"keep (the probability of keeping a pixel) must be in (0, 1], got {keep}")
        if weight < 0 or steps < 1:
            raise ValueError(f"weight must be >= 0 and steps >= 1, got weight={weight}, steps={steps}")
        self.weight, self.keep, self.steps, self.lr = weight, keep, steps, lr
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, channels=3, size=None)
        n, _, h, w = x.shape
        mask = (torch.rand(n, 1, h, w, generator=self.generator, device=x.device) < self.keep).to(x.dtype)
        with torch.no_grad():
            purified = tv_minimize(x, mask, weight=self.weight, steps=self.steps, lr=self.lr)
            return purified - x.detach()

    def extra_repr(self) -> str:
        return f"weight={self.weight}, keep={self.keep}, steps={self.steps}, lr={self.lr}"
