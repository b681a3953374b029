"""AutoAttack and its gradient-free Square (Croce and Hein 2020), from the authors' ``pyautoattack`` package.

An optional dependency (``pip install 'cafd-zoo[eval]'``), imported when an attack runs, not before.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import only, register_attack


class _FloatLogits(nn.Module):
    """Logits in fp32 whatever the autocast: pyautoattack's Square mixes bf16 margins with fp32 ones in one
    indexed assignment and fails ("Index put requires the source and destination dtypes match") as soon as it
    runs, that is, whenever the gradient attacks before it leave an image unbroken."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).float()


def _autoattack_class() -> type:
    try:
        from pyautoattack import AutoAttack
    except ImportError as exc:
        raise RuntimeError("AutoAttack needs the authors' package: pip install 'cafd-zoo[eval]' (pyautoattack)") from exc
    return AutoAttack


def autoattack_standard(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float = 8 / 255, seed: int = 0,
                        version: str = "standard", norm: str = "Linf", package: str = "pyautoattack",
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """AutoAttack's standard L-inf ensemble (APGD-CE, APGD-T, FAB-T, Square), seeded by ``seed``."""
    only("autoattack", version=(version, "standard"), norm=(norm, "Linf"), package=(package, "pyautoattack"))
    attack = _autoattack_class()(_FloatLogits(model), eps=eps, norm="Linf", version="standard", seed=seed,
                                 device=x.device)
    return attack.run_standard_evaluation(x, y, batch_size=len(x))[0]


SQUARE_PACKAGE = "pyautoattack (gradient-free: a check for gradient masking)"


def square(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float = 8 / 255, queries: int = 5000,
           p_init: float = 0.8, seed: int = 0, norm: str = "Linf", package: str = SQUARE_PACKAGE,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Square alone (AutoAttack's ``custom`` version): no gradients, so masked gradients cannot hide from it."""
    only("square", norm=(norm, "Linf"), package=(package, SQUARE_PACKAGE))
    attack = _autoattack_class()(_FloatLogits(model), eps=eps, norm="Linf", version="custom", attacks=["square"],
                                 seed=seed, device=x.device)
    attack.square.n_queries, attack.square.p_init = queries, p_init
    return attack.run_standard_evaluation(x, y, batch_size=len(x))[0]


register_attack("autoattack", autoattack_standard,
                {"version": "standard", "norm": "Linf", "eps": 8 / 255, "seed": 0, "package": "pyautoattack"},
                eps="eps", summary="AutoAttack, standard L-inf version (needs pyautoattack)")
register_attack("square", square,
                {"norm": "Linf", "eps": 8 / 255, "queries": 5000, "p_init": 0.8, "seed": 0, "package": SQUARE_PACKAGE},
                eps="eps", summary="Square, 5,000 queries (gradient-free; needs pyautoattack)")
