"""Run an attack on a model without touching it: eval mode, no parameter gradients, all restored."""
from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode with ``requires_grad=False`` on its parameters, and restore both.

    Turning parameter gradients off also saves the weight-gradient half of every backward pass,
    and guarantees that an attack never adds to a ``.grad`` the caller is accumulating.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_parameter_grads(model):
            yield model
    finally:
        for m, training in modes:
            m.training = training


@contextlib.contextmanager
def no_parameter_grads(module: nn.Module) -> Iterator[nn.Module]:
    """``requires_grad=False`` on ``module``'s parameters, restored after; its train/eval mode is left alone
    (a GAN trainer steps one network through another that must keep its batch statistics)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
