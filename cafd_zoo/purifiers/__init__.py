"""Input-transformation baselines of the paper's Table 1 (JPEG, TVM), as residual modules.

Each returns ``purified(x) - x``, so it drops into :class:`~cafd_zoo.models.DefendedClassifier` where a
DUNET would go and every threat model of :mod:`cafd_zoo.evaluation` applies unchanged. Both are
non-differentiable; their residual carries no gradient, so the end-to-end gradient of
``x + C(x)`` is the identity: attacking such a DefendedClassifier "white-box" *is* BPDA.
``jpeg_diff`` is the exception made for that reason: kornia's differentiable JPEG, whose true gradient
a white-box attack follows (kornia is imported only when it is built).
"""
import torch
from torch import nn

from .jpeg import JPEGPurifier, jpeg_roundtrip
from .jpeg_diff import DifferentiableJPEGPurifier
from .tvm import TVMPurifier, total_variation, tv_minimize

PURIFIERS = ("jpeg", "jpeg_diff", "tvm")


def build_purifier(spec: str, *, seed: int = 0) -> nn.Module:
    """A baseline purifier by name, with the paper's settings: ``jpeg`` (quality 75; ``jpeg:Q`` for
    another), ``jpeg_diff`` (kornia's differentiable JPEG, quality 75; ``jpeg_diff:Q``), ``tvm`` (weight 0.003,
    half the pixels kept, its random masks seeded by ``seed``)."""
    name, _, argument = spec.partition(":")
    if name in ("jpeg", "jpeg_diff"):
        if argument and not argument.isdigit():
            raise ValueError(f"--purifier {spec!r}: the JPEG quality must be an integer, e.g. {name}:75")
        purifier = JPEGPurifier if name == "jpeg" else DifferentiableJPEGPurifier
        return purifier(int(argument) if argument else 75)
    if name == "tvm" and not argument:
        return TVMPurifier(generator=torch.Generator().manual_seed(seed))
    raise ValueError(f"unknown purifier {spec!r}; choose from {', '.join(PURIFIERS)} "
                     "(jpeg:Q, jpeg_diff:Q set the JPEG quality)")


__all__ = ["PURIFIERS", "build_purifier", "JPEGPurifier", "DifferentiableJPEGPurifier", "jpeg_roundtrip", "TVMPurifier",
           "total_variation", "tv_minimize"]
