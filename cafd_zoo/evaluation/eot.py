"""Expectation over transformation (EOT; Athalye, Carlini & Wagner 2018) for randomised defenses.

A randomised purifier (TVM's random pixel mask) gives another gradient on every call, so an attack
that follows one draw's gradient chases noise. :class:`EOTClassifier` returns the mean logits of
``draws`` independent draws of the defense; its gradient is therefore the mean of the draws' gradients,
and any gradient attack (PGD, AutoAttack, CAFA) runs on it unchanged. Memory grows with ``draws``
(one graph per draw lives until the backward pass): lower the batch size for many draws.

Where the randomness lives: every randomised module keeps it in a ``generator`` attribute (a
``torch.Generator``), as :class:`~cafd_zoo.purifiers.TVMPurifier` does. Each call draws one seed per
draw from the wrapper's own generator (seeded once, so a run is repeatable), seeds every such
generator from it, and restores their states afterwards: the deployed model's own draws (clean and
final evaluation, one draw each) are the same whether or not an EOT attack ran before them.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def random_generators(model: nn.Module) -> list[torch.Generator]:
    """The generators of ``model``'s randomised submodules (each once); empty for a deterministic model."""
    found: list[torch.Generator] = []
    for module in model.modules():
        generator = getattr(module, "generator", None)
        if isinstance(generator, torch.Generator) and not any(generator is g for g in found):
            found.append(generator)
    return found


class EOTClassifier(nn.Module):
    """``forward(x) = mean over draws k of model(x)`` under draw k's seeds; ``last_seeds`` holds them."""

    def __init__(self, model: nn.Module, draws: int, *, seed: int = 0) -> None:
        super().__init__()
        if draws < 1:
            raise ValueError(f"EOT needs at least 1 draw, got {draws}")
        self.model = model
        self.draws = draws
        self._generators = random_generators(model)
        if not self._generators:
            raise ValueError(f"{type(model).__name__} is deterministic (no submodule keeps a torch.Generator in "
                             "`generator`): EOT would average identical draws; attack it without EOT")
        self._seeds = torch.Generator().manual_seed(seed)
        self.last_seeds: tuple[int, ...] = ()

    def _mean_over_draws(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        seeds = torch.randint(0, 2**62, (self.draws,), generator=self._seeds).tolist()
        saved = [g.get_state() for g in self._generators]
        try:
            total = None
            for seed in seeds:
                for j, g in enumerate(self._generators):
                    g.manual_seed(seed + j)
                out = fn(x)
                total = out if total is None else total + out
        finally:
            for g, state in zip(self._generators, saved):
                g.set_state(state)
        self.last_seeds = tuple(seeds)
        return total / self.draws

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mean_over_draws(self.model, x)

    # CAFA attacks class activation features: the mean features over draws, then the (shared) head.
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._mean_over_draws(self.model.forward_features, x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(features)

    def get_classifier(self) -> nn.Module:
        return self.model.get_classifier()

    def extra_repr(self) -> str:
        return f"draws={self.draws}"


def with_eot(model: nn.Module, draws: int, *, seed: int = 0) -> nn.Module:
    """``model`` itself for one draw (the plain model, as deployed), else its :class:`EOTClassifier`."""
    if draws == 1:
        return model
    return EOTClassifier(model, draws, seed=seed)
