"""CW-L2 (Carlini & Wagner 2017) with a binary search over the constant c: the paper's CW column.

Minimises ||x' - x||_2^2 + c * max(Z_y - max_{i != y} Z_i, -kappa) over x' = (tanh(w) + 1) / 2 with
Adam, for each c of a per-image binary search (c grows tenfold until the attack succeeds, then
bisects). An example succeeds when another class beats the label by more than kappa (the margin that keeps it
adversarial after bf16 rounding and uint8 storage). Returns per image the smallest-L2 successful example found; an
image never fooled is returned unchanged. Defaults are the paper's code's (advertorch's CarliniWagnerL2Attack):
4 search steps, c0 = 1, kappa = 1, lr 0.01, 100 iterations, and its early abort: a search step stops once the
batch's loss, checked every tenth of the iterations, has not fallen since the last check. The loss then only
creeps, so aborting changes little but the cost: on a non-robust classifier most search steps end early.
"""
from __future__ import annotations

import torch
from torch import nn

from ..frozen import frozen
from ..input_checks import check_image_batch
from .registry import only, register_attack


def cw_margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Z_y - max_{i != y} Z_i: positive while the label still wins."""
    true = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
    return true - others


def carlini_wagner_l2(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    confidence: float = 1.0,
    initial_const: float = 1.0,
    binary_search_steps: int = 4,
    max_iterations: int = 100,
    learning_rate: float = 0.01,
    abort_early: bool = True,
) -> torch.Tensor:
    """Non-targeted CW-L2 adversarial examples for ``x`` (float images in [0, 1])."""
    if binary_search_steps < 1 or max_iterations < 1 or initial_const <= 0 or learning_rate <= 0:
        raise ValueError("need binary_search_steps >= 1, max_iterations >= 1, initial_const > 0, learning_rate > 0; "
                         f"got {binary_search_steps}, {max_iterations}, {initial_const}, {learning_rate}")
    check_image_batch(x, channels=None, what="CW-L2 input")
    x = x.detach()
    n = len(x)
    w_start = torch.atanh((2 * x - 1).clamp(-1 + 1e-6, 1 - 1e-6))
    const = torch.full((n,), initial_const, device=x.device)
    lower, upper = torch.zeros(n, device=x.device), torch.full((n,), float("inf"), device=x.device)
    best_norm = torch.full((n,), float("inf"), device=x.device)
    best = x.clone()
    check_every = max(1, max_iterations // 10)  # advertorch's NUM_CHECKS = 10
    with frozen(model):
        for _ in range(binary_search_steps):
            w = w_start.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=learning_rate)
            succeeded = torch.zeros(n, dtype=torch.bool, device=x.device)
            last_checked = float("inf")
            for iteration in range(max_iterations):
                x_adv = (torch.tanh(w) + 1) / 2
                logits = model(x_adv).float()
                distance = (x_adv - x).flatten(1).square().sum(1)
                loss = (distance + const * cw_margin(logits, labels).clamp_min(-confidence)).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():  # success, as in Carlini's code and advertorch: another class wins by kappa
                    fooled = cw_margin(logits, labels) < -confidence
                    norm = distance.sqrt()
                    better = fooled & (norm < best_norm)
                    best_norm = torch.where(better, norm, best_norm)
                    best[better] = x_adv.detach()[better]
                    succeeded |= fooled
                if abort_early and iteration % check_every == 0:
                    current = loss.item()
                    if current > last_checked * (1 - 1e-6):  # advertorch's ONE_MINUS_EPS
                        break
                    last_checked = current
            with torch.no_grad():  # bisect where it worked, grow tenfold (or bisect) where it did not
                upper = torch.where(succeeded, torch.minimum(upper, const), upper)
                lower = torch.where(succeeded, lower, torch.maximum(lower, const))
                const = torch.where(torch.isinf(upper), const * 10, (lower + upper) / 2)
    return best.clamp(0, 1)


def cw_l2_minimum_norm(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, confidence: float = 1.0,
                       initial_const: float = 1.0, binary_search_steps: int = 4, max_iterations: int = 100,
                       learning_rate: float = 0.01, abort_early: bool = True, norm: str = "L2",
                       budget: str = "none (minimum norm)",
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Non-targeted CW-L2 (deterministic: ``generator`` is unused)."""
    only("cw_l2", norm=(norm, "L2"), budget=(budget, "none (minimum norm)"))
    return carlini_wagner_l2(model, x, labels, confidence=confidence, initial_const=initial_const,
                             binary_search_steps=binary_search_steps, max_iterations=max_iterations,
                             learning_rate=learning_rate, abort_early=abort_early)


register_attack("cw_l2", cw_l2_minimum_norm,
                {"norm": "L2", "budget": "none (minimum norm)", "binary_search_steps": 4, "initial_const": 1.0,
                 "confidence": 1.0, "learning_rate": 0.01, "max_iterations": 100, "abort_early": True},
                steps="max_iterations", summary="minimum-norm CW-L2, 4 binary-search steps x 100 Adam iterations",
                revision=2)  # 1: success needs a margin of kappa (before, any wrong argmax counted); 2: early abort
