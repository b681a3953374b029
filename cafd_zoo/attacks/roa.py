"""ROA, the rectangular occlusion attack of Wu, Tong and Vorobeychik (ICLR 2020), exhaustive-search variant.

1. Where: a gray (0.5) ``size`` x ``size`` rectangle is tried at every position of a ``stride`` grid and
   each image keeps the position of highest cross-entropy. Forward passes only, many candidate
   positions per pass, so the search costs (positions / batch) network passes and no backward.
2. What: the pixels inside that rectangle, and only those, are optimised by signed-gradient ascent in
   [0, 1] (no L-inf bound inside the patch). Every pixel outside it is returned bit for bit.

The CAFD paper's DOA baseline uses 7x7 patches found by exhaustive search (Wu et al.'s CIFAR script
defaults to 5x5 with gradient-guided search); 30 steps of 0.05 follow that script. The model's mode,
parameters and gradients are left as found.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..frozen import frozen
from ..input_checks import check_image_batch
from .registry import only, register_attack

GRAY = 0.5


def candidate_positions(height: int, width: int, size: int, stride: int,
                        device: torch.device | str = "cpu") -> torch.Tensor:
    """Top-left corners (row, col) of every ``size`` x ``size`` window on a ``stride`` grid, row-major: (P, 2)."""
    rows = torch.arange(0, height - size + 1, stride, device=device)
    cols = torch.arange(0, width - size + 1, stride, device=device)
    return torch.cartesian_prod(rows, cols).view(-1, 2)


def rectangle_mask(rows: torch.Tensor, cols: torch.Tensor, size: int, height: int, width: int) -> torch.Tensor:
    """Boolean (N, 1, H, W) masks, True inside the ``size`` x ``size`` window at corner (rows[i], cols[i])."""
    r = torch.arange(height, device=rows.device)
    c = torch.arange(width, device=cols.device)
    inside_r = (r >= rows[:, None]) & (r < rows[:, None] + size)
    inside_c = (c >= cols[:, None]) & (c < cols[:, None] + size)
    return (inside_r[:, :, None] & inside_c[:, None, :]).unsqueeze(1)


def _check(x: torch.Tensor, size: int, stride: int) -> None:
    check_image_batch(x, channels=None, what="ROA input")
    height, width = x.shape[-2:]
    if not 1 <= size <= min(height, width) or stride < 1:
        raise ValueError(f"ROA needs 1 <= size <= {min(height, width)} (the image is {height}x{width}) and "
                         f"stride >= 1; got size {size}, stride {stride}")


@torch.no_grad()
def roa_position(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    size: int = 7,
    stride: int = 1,
    search_batch: int = 2048,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the top-left corner (rows, cols) of the gray rectangle with the highest cross-entropy.

    Candidates go through the model ``search_batch`` images at a time. Ties go to the first position
    in row-major order; an image whose losses all tie (the model ignores the patch, or its loss is 0
    everywhere) gets a position drawn uniformly with ``generator``, as Wu et al. do.
    """
    _check(x, size, stride)
    x = x.detach()
    n, height, width = len(x), x.shape[-2], x.shape[-1]
    positions = candidate_positions(height, width, size, stride, x.device)
    per_pass = max(1, search_batch // n)
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    gray = torch.tensor(GRAY, dtype=x.dtype, device=x.device)
    losses = []
    with frozen(model):
        for chunk in positions.split(per_pass):
            mask = rectangle_mask(chunk[:, 0], chunk[:, 1], size, height, width).unsqueeze(1)  # (p, 1, 1, H, W)
            occluded = torch.where(mask, gray, x.unsqueeze(0)).flatten(0, 1)
            if channels_last:
                occluded = occluded.contiguous(memory_format=torch.channels_last)
            logits = model(occluded).float()
            losses.append(F.cross_entropy(logits, labels.repeat(len(chunk)), reduction="none").view(len(chunk), n))
    loss = torch.cat(losses)  # (P, N)
    best = loss.argmax(0)  # the first maximum
    drawn = torch.randint(len(positions), (n,), generator=generator, device=x.device)
    best = torch.where(loss.amax(0) == loss.amin(0), drawn, best)
    return positions[best, 0], positions[best, 1]


def roa(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    size: int = 7,
    stride: int = 1,
    steps: int = 30,
    step_size: float = 0.05,
    random_start: bool = False,
    search_batch: int = 2048,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """ROA examples for ``x``: a ``size`` x ``size`` patch at the position :func:`roa_position` picks, then
    ``steps`` signed-gradient steps of ``step_size`` on the patch pixels alone, kept in [0, 1].

    The patch starts gray (0.5), or uniform in [0, 1] with ``random_start``. Outside the patch the
    result equals ``x`` exactly.
    """
    _check(x, size, stride)
    if steps < 0 or step_size <= 0:
        raise ValueError(f"ROA needs steps >= 0 and step_size > 0; got {steps}, {step_size}")
    x = x.detach()
    rows, cols = roa_position(model, x, labels, size=size, stride=stride, search_batch=search_batch,
                              generator=generator)
    mask = rectangle_mask(rows, cols, size, x.shape[-2], x.shape[-1])
    patch = torch.empty_like(x).uniform_(0, 1, generator=generator) if random_start else torch.full_like(x, GRAY)
    with frozen(model):
        for _ in range(steps):
            patch.requires_grad_(True)
            loss = F.cross_entropy(model(torch.where(mask, patch, x)).float(), labels)
            (grad,) = torch.autograd.grad(loss, patch)
            patch = (patch.detach() + step_size * grad.sign()).clamp_(0, 1)
    return torch.where(mask, patch.detach(), x)


def roa_attack(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, size: int = 7, stride: int = 1,
               steps: int = 30, step_size: float = 0.05, random_start: bool = False, norm: str = "patch",
               search: str = "exhaustive", fill: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """ROA of the evaluation and of DOA training: a gray patch at the worst position, then optimised."""
    only("roa", norm=(norm, "patch"), search=(search, "exhaustive"), fill=(fill, 0.5))
    return roa(model, x, labels, size=size, stride=stride, steps=steps, step_size=step_size, random_start=random_start,
               generator=generator)


register_attack("roa", roa_attack,
                {"norm": "patch", "size": 7, "stride": 1, "search": "exhaustive", "fill": 0.5, "steps": 30,
                 "step_size": 0.05, "random_start": False},
                steps="steps", step_size="step_size", summary="ROA: 7x7 occlusion, exhaustive search, 30 steps")
