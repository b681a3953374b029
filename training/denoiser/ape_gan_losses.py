"""APE-G's two losses (Shen et al. 2017; the reference code's weights xi1 = 0.7, xi2 = 0.3).

    L_G = 0.7 * MSE(G(x_adv), x) + 0.3 * BCE(D(G(x_adv)), 1)
    L_D = BCE(D(x), 1) + BCE(D(G(x_adv)), 0)                      (each BCE a batch mean; the sum, as the reference)

D returns raw logits (cafd_zoo/models/ape_gan.py); BCE(sigmoid(z), t) is computed as BCE-with-logits(z, t),
the same value without the overflow of log(sigmoid) and safe under bf16 autocast. Computed in fp32.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def ape_discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """L_D: natural images ``d_real = D(x)`` labelled real, generated ``d_fake = D(G(x_adv))`` labelled fake."""
    d_real, d_fake = d_real.float(), d_fake.float()
    return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def ape_generator_loss(
    generated: torch.Tensor, natural: torch.Tensor, d_fake: torch.Tensor, *, lambda_pixel: float = 0.7,
    lambda_adv: float = 0.3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_G, its MSE term, its BCE term), the terms unweighted: G(x_adv) should be x and fool D."""
    pixel = F.mse_loss(generated.float(), natural.float())
    d_fake = d_fake.float()
    adversarial = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
    return lambda_pixel * pixel + lambda_adv * adversarial, pixel, adversarial
