"""CAFA (``cafd_zoo.cafa``, paper Algorithm 1) in the attack registry; it never looks at the labels."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..cafa import cafa
from .registry import only, register_attack


def cafa_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, preset: str = "official",
                labels: str = "unused", generator: torch.Generator | None = None, **config: Any) -> torch.Tensor:
    """CAFA with ``preset`` and any :class:`cafd_zoo.CAFAConfig` field in ``config``; ``labels="unused"`` only
    records that ``y`` is ignored."""
    only("cafa", labels=(labels, "unused"))
    return cafa(model, x, preset=preset, **config, generator=generator)


register_attack("cafa", cafa_attack,
                {"preset": "official", "eps": 8 / 255, "steps": 100, "step_size": 0.01, "labels": "unused"},
                eps="eps", steps="steps",
                summary="CAFA (official preset): 100 steps of 0.01 in the class activation feature space")
