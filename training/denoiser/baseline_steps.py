"""One training iteration of each baseline denoiser, in place of CAFD's step inside train_denoiser's loop.

HGD: x_hat = purify(C, x_adv); one Adam step of C on the guided loss (training/denoiser/hgd_loss.py). No discriminator.

APE-G, as the reference code: one step of D on BCE(D(x), 1) + BCE(D(G(x_adv)), 0), then ``generator_steps``
(2) steps of G on 0.7 MSE(G(x_adv), x) + 0.3 BCE(D(G(x_adv)), 1), G re-run before each
(training/denoiser/ape_gan_losses.py).
G's forward for D's step runs without a graph (its output is detached anyway); G stays in train mode, so its
batch-norm statistics update three times per batch, as in the reference. D takes no gradient in G's steps.
The classifier takes no part in APE-G's training: it only made the training pairs.
"""
from __future__ import annotations

import torch
from torch import nn

from cafd_zoo.frozen import no_parameter_grads
from cafd_zoo.models.denoiser import purify
from cafd_zoo.precision import autocast

from .ape_gan_losses import ape_discriminator_loss, ape_generator_loss
from .baseline_config import BaselineDenoiserConfig
from .hgd_loss import guided_denoiser_loss


def baseline_train_step(
    config: BaselineDenoiserConfig,
    precision: str,
    device: torch.device,
    net_c: nn.Module,
    net_d: nn.Module,
    discriminator: nn.Module,
    optimizer_c: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    classifier: nn.Module,
    x_nat: torch.Tensor,
    x_adv: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """One iteration of ``config.method`` on a batch; returns the losses as tensors (no sync)."""
    if config.method == "hgd":
        return _hgd_step(config, precision, device, net_c, optimizer_c, classifier, x_nat, x_adv)
    return _ape_gan_step(config, precision, device, net_c, net_d, discriminator, optimizer_c, optimizer_d, x_nat, x_adv)


def _step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _hgd_step(config: BaselineDenoiserConfig, precision: str, device: torch.device, net_c: nn.Module,
              optimizer_c: torch.optim.Optimizer, classifier: nn.Module, x_nat: torch.Tensor,
              x_adv: torch.Tensor) -> dict[str, torch.Tensor]:
    with autocast(precision, device):  # type: ignore[arg-type]
        x_hat = purify(net_c, x_adv, config.clamp)
        loss, guided = guided_denoiser_loss(classifier, x_hat, x_nat, config.guided_layer)  # type: ignore[arg-type]
    _step(optimizer_c, loss)
    losses = {"loss": loss.detach(), "guided": loss.detach()}
    if config.guided_layer == "logits":
        losses["purified_predictions"] = guided.detach().argmax(1)
    return losses


def _ape_gan_step(config: BaselineDenoiserConfig, precision: str, device: torch.device, net_c: nn.Module,
                  net_d: nn.Module, discriminator: nn.Module, optimizer_c: torch.optim.Optimizer,
                  optimizer_d: torch.optim.Optimizer, x_nat: torch.Tensor,
                  x_adv: torch.Tensor) -> dict[str, torch.Tensor]:
    with autocast(precision, device):  # type: ignore[arg-type]
        with torch.no_grad():
            x_hat = purify(net_c, x_adv, config.clamp)
        d_real, d_fake = net_d(x_nat), net_d(x_hat)
    loss_d = ape_discriminator_loss(d_real, d_fake)
    _step(optimizer_d, loss_d)
    for _ in range(config.generator_steps):
        with no_parameter_grads(discriminator), autocast(precision, device):  # type: ignore[arg-type]
            x_hat = purify(net_c, x_adv, config.clamp)
            d_fake = discriminator(x_hat)
        loss, pixel, gan = ape_generator_loss(x_hat, x_nat, d_fake, lambda_pixel=config.lambda_pixel,
                                              lambda_adv=config.lambda_gan)
        _step(optimizer_c, loss)
    return {"loss": loss.detach(), "loss_d": loss_d.detach(), "pixel_mse": pixel.detach(), "loss_gan": gan.detach()}
