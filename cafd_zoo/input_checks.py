"""One place that decides what a valid image batch is, so every entry point says the same thing.

Float inputs of another supported dtype (float64, numpy's default; float16; bfloat16) are valid:
the models cast them to their own dtype (:func:`to_model_dtype`), so a float32 model returns
float32 logits whatever float the caller had. Other dtypes get the one :class:`InvalidInputError`.
"""
from __future__ import annotations

import itertools
import math

import torch
from torch import nn

SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


class InvalidInputError(ValueError):
    """An image batch that is not float RGB in [0, 1], NCHW, finite, of the expected size."""


def check_image_batch(
    x: object,
    *,
    channels: int | None = 3,
    size: tuple[int, int] | None = None,
    tolerance: float = 1e-4,
    what: str = "input",
) -> torch.Tensor:
    """Raise :class:`InvalidInputError` unless ``x`` is a float (N, C, H, W) batch in [0, 1]; return it.

    The range check costs one reduction over the batch (``aminmax``), which also catches NaN and
    inf, so it is cheap next to any network pass.
    """
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(f"{what} must be a torch.Tensor of images, got {type(x).__name__}")
    if not x.is_floating_point():
        raise InvalidInputError(
            f"{what} must be a float tensor with values in [0, 1], got dtype {x.dtype}; "
            "for uint8 images use x.float() / 255"
        )
    if x.dtype not in SUPPORTED_DTYPES:
        raise InvalidInputError(
            f"{what} has dtype {x.dtype}, which the models cannot take; pass float32 "
            "(float64, float16 and bfloat16 are cast to the model's dtype), e.g. x.float()"
        )
    if x.dim() != 4:
        raise InvalidInputError(
            f"{what} must be 4-D (N, C, H, W), got {x.dim()}-D shape {tuple(x.shape)}; "
            "for a single image use x.unsqueeze(0)"
        )
    if channels is not None and x.shape[1] != channels:
        hint = " (channels-last data? use x.permute(0, 3, 1, 2))" if x.shape[-1] == channels else ""
        raise InvalidInputError(f"{what} must have {channels} channels, got shape {tuple(x.shape)}{hint}")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        raise InvalidInputError(
            f"{what} must be {size[0]}x{size[1]} pixels (the size the model was trained at), "
            f"got {x.shape[-2]}x{x.shape[-1]}; resize the images first"
        )
    if x.numel() == 0:
        raise InvalidInputError(f"{what} is empty (shape {tuple(x.shape)})")
    lo, hi = torch.aminmax(x.detach())
    lo_v, hi_v = float(lo), float(hi)
    if not (math.isfinite(lo_v) and math.isfinite(hi_v)):  # min/max propagate NaN and inf
        raise InvalidInputError(f"{what} contains NaN or inf values")
    if lo_v < -tolerance or hi_v > 1.0 + tolerance:
        raise InvalidInputError(
            f"{what} values must lie in [0, 1], got min {lo_v:.4g} and max {hi_v:.4g}; "
            "pass raw RGB scaled to [0, 1], not normalised or 0-255 images (normalisation is inside the model)"
        )
    return x


def model_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first float parameter (or buffer); ``None`` for a model without one."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


def to_model_dtype(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """``x`` cast to the model's dtype (a no-op when it matches), differentiably, so attacks see through it."""
    dtype = model_dtype(model)
    return x if dtype is None or not x.is_floating_point() or x.dtype == dtype else x.to(dtype)


def first_conv_channels(model: nn.Module) -> int | None:
    """Input channels of the model's first ``nn.Conv2d``: what a batch for it must have (``None``: unknown)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else None
