"""The class activation feature attack (CAFA, paper Algorithm 1).

Sign-gradient ascent, in an L-inf ball around x, of the distance between the class activation
features Phi(x) and Phi(x_adv). Labels are never used: the class weights W come from the
classifier's own prediction on each input (x once, the current iterate at every step).

Presets:
    ``official``: what the official code runs to build its training data: uniform random start in
        the eps ball, 100 steps of 0.01, eps 8/255, MSE between ReLU'd, min-max normalised Phi
        upsampled (bilinear) to the input size. The official code normalises with the min and max of
        the whole batch, which couples samples; ``normalization="sample"`` (the default here) is
        the documented deviation, ``"batch"`` the official behaviour.
    ``paper``: Algorithm 1 as written: L2 distance of raw Phi, starting at x. Every distance has a
        zero gradient at its minimum x_adv = x, so this preset starts from a 1e-3 uniform jitter
        around x (``start_radius``); the paper states no step count or size, so it uses the
        official 100 x 0.01.

Cost: Phi(x) is computed once per call (the official code recomputes it every step), and the
upsampled MSE is evaluated as a small quadratic form on the h x w feature map instead of
upsampling all K channels (bilinear upsampling is linear), so a CAFA step costs one forward and
one backward pass, like a PGD step.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .cam import ClassActivationFeatures
from .frozen import frozen
from .input_checks import check_image_batch, to_model_dtype

Distance = Literal["normalized_mse", "l2"]


@dataclass(frozen=True)
class CAFAConfig:
    """Every parameter of a CAFA run; ``start_radius=None`` means a uniform start in the whole eps ball."""

    eps: float = 8 / 255
    steps: int = 100
    step_size: float = 0.01
    start_radius: float | None = None
    distance: Distance = "normalized_mse"
    normalization: Literal["sample", "batch"] = "sample"

    def __post_init__(self) -> None:
        if not 0 < self.eps <= 1:
            raise ValueError(f"eps must be in (0, 1], got {self.eps}")
        if self.steps < 1 or self.step_size <= 0:
            raise ValueError(f"need steps >= 1 and step_size > 0, got {self.steps} and {self.step_size}")
        if self.start_radius is not None and not 0 <= self.start_radius <= self.eps:
            raise ValueError(f"start_radius must be in [0, eps], got {self.start_radius}")
        if self.distance not in ("normalized_mse", "l2"):
            raise ValueError(f"distance must be 'normalized_mse' or 'l2', got {self.distance!r}")
        if self.normalization not in ("sample", "batch"):
            raise ValueError(f"normalization must be 'sample' or 'batch', got {self.normalization!r}")


PRESETS: dict[str, CAFAConfig] = {
    "official": CAFAConfig(),
    "paper": CAFAConfig(start_radius=1e-3, distance="l2"),
}


def resolve_config(preset: str = "official", **overrides: object) -> CAFAConfig:
    """The preset's config with the non-None ``overrides`` applied (e.g. ``steps=10``)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown CAFA preset {preset!r}; choose one of {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})


def _bilinear_matrix(n_in: int, n_out: int, device: torch.device) -> torch.Tensor:
    """(n_out, n_in) matrix of torch's 1-D bilinear upsampling (align_corners=False)."""
    basis = torch.eye(n_in, device=device).view(n_in, 1, n_in, 1)
    return F.interpolate(basis, size=(n_out, 1), mode="bilinear", align_corners=False).view(n_in, n_out).T


class FeatureDistance:
    """Distance between two Phi batches, per the config; ``__call__`` gives the quantity ascended."""

    def __init__(self, config: CAFAConfig, feature_size: tuple[int, int], input_size: tuple[int, int],
                 device: torch.device):
        self.config = config
        if config.distance == "normalized_mse":
            uh = _bilinear_matrix(feature_size[0], input_size[0], device)
            uw = _bilinear_matrix(feature_size[1], input_size[1], device)
            self.gram_h, self.gram_w = uh.T @ uh, uw.T @ uw
            self.upsampled_pixels = input_size[0] * input_size[1]

    def normalize(self, phi: torch.Tensor) -> torch.Tensor:
        """ReLU then min-max to [0, 1], per sample or over the whole batch."""
        phi = phi.float().relu()
        dims = tuple(range(1, phi.dim())) if self.config.normalization == "sample" else tuple(range(phi.dim()))
        lo, hi = phi.amin(dim=dims, keepdim=True), phi.amax(dim=dims, keepdim=True)
        return (phi - lo) / (hi - lo).clamp_min(1e-12)

    def __call__(self, phi_adv: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``target`` is ``prepare(phi_nat)``. normalized_mse: the mean over the upsampled maps;
        l2: the sum over the batch of squared L2 norms (same sign-gradient as the norm)."""
        if self.config.distance == "l2":
            return (phi_adv.float() - target).pow(2).sum()
        diff = self.normalize(phi_adv) - target
        # ||U_h D U_w^T||_F^2 = sum(D * (G_h D G_w)), G = U^T U: exact, without materialising 32x32 maps
        quad = (diff * (self.gram_h @ diff @ self.gram_w)).sum()
        return quad / (diff.shape[0] * diff.shape[1] * self.upsampled_pixels)

    def prepare(self, phi_nat: torch.Tensor) -> torch.Tensor:
        return phi_nat.float() if self.config.distance == "l2" else self.normalize(phi_nat)


def cafa(
    model: nn.Module | ClassActivationFeatures,
    x: torch.Tensor,
    *,
    preset: str = "official",
    eps: float | None = None,
    steps: int | None = None,
    step_size: float | None = None,
    start_radius: float | None = None,
    distance: Distance | None = None,
    normalization: Literal["sample", "batch"] | None = None,
    generator: torch.Generator | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> torch.Tensor:
    """Craft CAFA examples for ``x`` (float RGB in [0, 1], NCHW) against ``model``; returns x_adv.

    ``model`` is a classifier (zoo, timm, or any module through a prebuilt
    :class:`ClassActivationFeatures` with ``layer=``). Its mode, parameters and gradients are left
    as found. Runs as is under ``torch.autocast`` and on channels_last inputs. ``callback(step,
    distance)`` is called after every step with the distance of the iterate before that step.
    float64, float16 and bfloat16 inputs are cast to the model's dtype, which x_adv then has.
    """
    config = resolve_config(
        preset, eps=eps, steps=steps, step_size=step_size, start_radius=start_radius,
        distance=distance, normalization=normalization,
    )
    extractor = model if isinstance(model, ClassActivationFeatures) else ClassActivationFeatures(model)
    check_image_batch(x, channels=None, what="CAFA input")
    x = to_model_dtype(x.detach(), extractor.model)
    with frozen(extractor.model):
        with torch.no_grad():
            phi_nat = extractor(x).phi
        dist = FeatureDistance(config, tuple(phi_nat.shape[-2:]), tuple(x.shape[-2:]), x.device)
        target = dist.prepare(phi_nat)
        radius = config.eps if config.start_radius is None else config.start_radius
        delta = torch.empty_like(x).uniform_(-1, 1, generator=generator) * radius
        delta = ((x + delta).clamp(0, 1) - x).requires_grad_(True)
        for step in range(config.steps):
            loss = dist(extractor(x + delta).phi, target)
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                delta += config.step_size * grad.sign()
                delta.clamp_(-config.eps, config.eps)
                delta.copy_((x + delta).clamp_(0, 1) - x)
            if callback is not None:
                callback(step, float(loss.detach()))
    return (x + delta.detach()).clamp_(0, 1)


class CAFA:
    """Attack-library style wrapper: ``CAFA(model, preset="official", steps=20)(x)`` -> x_adv.

    Accepts and ignores a label argument, so it drops into loops written for torchattacks.
    """

    def __init__(self, model: nn.Module, preset: str = "official", *, layer: str | None = None,
                 **overrides: object) -> None:
        self.config = resolve_config(preset, **overrides)
        self.extractor = ClassActivationFeatures(model, layer=layer)

    def __call__(self, x: torch.Tensor, labels: object = None, *,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        del labels  # CAFA never uses labels
        return cafa(self.extractor, x, **dataclasses.asdict(self.config), generator=generator)
