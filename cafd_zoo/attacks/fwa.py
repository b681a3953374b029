"""FWA, the Frank-Wolfe Wasserstein attack (Wu, Wang & Yu, ICML 2020): the paper's FWA column.

Each channel of an image is a mass distribution over its pixels. A coupling pi moves the mass x_i
of pixel i to pixels j of the k x k window around i (local transport, k = 5); the adversarial
image is the column marginal x'_j = sum_i pi_ij. The feasible couplings are

    pi >= 0,   sum_j pi_ij = x_i (mass stays),   <C, pi> <= eps * sum(x) (per image, all channels),

with C_ij the Euclidean distance between pixel positions. Starting from the identity coupling,
every iteration t takes the gradient G of the summed cross-entropy of clamp(x', 0, 1) with respect
to pi, normalises it by its per-sample max |G|, and solves the entropy-regularised linear step

    pi* = argmax <pi, G> + gamma * H(pi)   over the feasible set,

in the dual: pi*_ij(lambda) = x_i * softmax_j((G_ij - lambda * C_ij) / gamma), with one lambda >= 0
per sample found by bisection so that the cost meets the budget (the upper end of the bracket is
always feasible, so every pi* is). Then pi <- pi + 2 / (t + 2) * (pi* - pi): a convex combination
of feasible couplings, so every iterate is feasible. Pure PyTorch: ``F.unfold`` / ``F.fold`` over
the window replace the reference's compiled sparse extension; pi is stored as (N, C, k*k, H*W).

Defaults are the reference's CIFAR settings: eps 0.005, kernel 5, 300 iterations, gamma 1e-3,
50 bisection steps at tolerance 1e-4. Returns clamp(x', 0, 1) of the last iterate, or, for an
image the last iterate does not fool, of the last iterate that did (every iterate is feasible).
Not done: the reference's optional post-processing that also enforces x' <= 1 by a dual
projection (here the clamp does it), and its PGD variant.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..frozen import frozen
from ..input_checks import check_image_batch
from .registry import only, register_attack


@dataclass(frozen=True)
class Transport:
    """The coupling behind each returned image: ``coupling`` (N, C, k*k, H*W), where entry (o, i) is
    the mass moved from pixel i by the o-th offset of the window (row-major, centre k*k // 2);
    ``image`` the column marginal x' before the clamp; ``cost`` <C, pi> and ``budget`` eps * sum(x)
    per image; ``success`` whether the returned image fools the model."""

    coupling: torch.Tensor
    image: torch.Tensor
    cost: torch.Tensor
    budget: torch.Tensor
    success: torch.Tensor


def window_costs(kernel_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The (k*k,) distances, in pixels, from the centre of a k x k window to each of its cells (row-major)."""
    offsets = torch.arange(kernel_size, device=device, dtype=torch.float32) - kernel_size // 2
    return (offsets.view(-1, 1).square() + offsets.view(1, -1).square()).sqrt().flatten()


def column_marginal(coupling: torch.Tensor, size: tuple[int, int], kernel_size: int) -> torch.Tensor:
    """x'_j = sum_i pi_ij as an (N, C, H, W) image; mass sent outside the image would be lost (none is)."""
    n, c, k2, hw = coupling.shape
    return F.fold(coupling.reshape(n, c * k2, hw), size, kernel_size, padding=kernel_size // 2).view(n, c, *size)


def transport_cost(coupling: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """<C, pi> per sample."""
    return (coupling * window_costs(kernel_size, coupling.device).view(1, 1, -1, 1)).sum((1, 2, 3))


def coupling_violations(coupling: torch.Tensor, x: torch.Tensor, eps: float, kernel_size: int) -> dict[str, float]:
    """How far ``coupling`` is from feasible for ``x``: the most negative entry (``negative``), the largest
    |row sum - x_i| (``row_marginal``), the largest cost / budget - 1 (``cost_excess``, <= 0 when within
    budget), and the mass sent outside the image (``outside``)."""
    n, c, h, w = x.shape
    inside = F.unfold(torch.ones(1, 1, h, w, device=x.device), kernel_size, padding=kernel_size // 2)
    budget = eps * x.float().flatten(1).sum(1)
    cost = transport_cost(coupling, kernel_size)
    return {
        "negative": float((-coupling).clamp_min(0).max()),
        "row_marginal": float((coupling.sum(2) - x.float().flatten(2)).abs().max()),
        "cost_excess": float(((cost - budget) / budget.clamp_min(1e-12)).max()),
        "outside": float((coupling * (inside.view(1, 1, -1, h * w) == 0)).abs().max()),
    }


def _check(coupling: torch.Tensor, x: torch.Tensor, eps: float, kernel_size: int, iteration: int) -> None:
    found = coupling_violations(coupling, x, eps, kernel_size)
    limits = {"negative": 0.0, "row_marginal": 1e-5, "cost_excess": 1e-3, "outside": 0.0}
    broken = {k: v for k, v in found.items() if v > limits[k]}
    if broken:
        raise RuntimeError(f"FWA coupling infeasible at iteration {iteration}: {broken} exceed {limits}; this is a bug")


def _exp_from_max(z: torch.Tensor) -> torch.Tensor:
    """exp(z - max_0 z), in place, with exponents floored at -80 (terms under 2e-35 of the largest barely
    change a sum, and exp's underflow path costs 3-4x on the -1000s that gamma = 1e-3 produces)."""
    return z.sub_(z.amax(0)).clamp_(min=-80.0).exp_()


def _linear_step(grad: torch.Tensor, mass: torch.Tensor, budget: torch.Tensor, costs: torch.Tensor,
                 inside: torch.Tensor, *, eps: float, gamma: float, max_iter: int, tol: float) -> torch.Tensor:
    """pi* of the entropy-regularised linear maximisation, lambda per sample by bisection (see the module doc).

    The window's k*k cells have only a few distinct distances (6 for k = 5), and lambda shifts every cell of a
    distance alike, so each bisection step works on the log-sum-exp of each distance group: the same cost with
    about 4x fewer exponentials. Shapes: grad (N, C, k*k, H*W), mass (N, C, H*W).
    """
    n = grad.shape[0]
    scores = (grad / gamma).masked_fill(~inside, -1e30)  # finite: a window wholly outside stays a number
    distinct, group = torch.unique(costs, return_inverse=True)
    by_cell = scores.permute(2, 0, 1, 3)  # (k*k, N, C, H*W): reductions over cells become sums of contiguous blocks
    group_scores = []
    for g in range(len(distinct)):
        members = by_cell[group == g]
        top = members.amax(0)
        group_scores.append(_exp_from_max(members).sum(0).log_().add_(top))
    group_scores = torch.stack(group_scores)  # (G, N, C, H*W)
    distinct = distinct.view(-1, 1, 1, 1)

    def cost(lam: torch.Tensor) -> torch.Tensor:
        z = _exp_from_max(group_scores - (lam / gamma).view(1, n, 1, 1) * distinct)
        return ((z * distinct).sum(0) / z.sum(0) * mass).sum((1, 2))

    lo = torch.zeros(n, device=grad.device)
    done = cost(lo) <= budget  # lambda = 0 is optimal: the unconstrained step is within budget
    # off-centre cells cost >= 1 and |G| <= 1, so at this lambda the expected cost per unit of mass is
    # <= max C * (k*k - 1) * exp((2 - lambda) / gamma) = eps: a feasible upper end of the bracket
    upper = 2 + gamma * math.log(float(costs.max()) * (len(costs) - 1) / eps)
    hi = torch.where(done, lo, torch.full_like(lo, upper))
    for _ in range(max_iter):
        if done.all():
            break
        mid = (lo + hi) / 2
        mid_cost = cost(mid)
        feasible = mid_cost <= budget
        hi = torch.where(feasible & ~done, mid, hi)
        lo = torch.where(feasible | done, lo, mid)
        done |= feasible & (mid_cost >= budget * (1 - tol))
    plan = torch.softmax(scores - (hi / gamma).view(n, 1, 1, 1) * costs.view(1, 1, -1, 1), dim=2)
    return plan * mass.unsqueeze(2)


def fwa(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 0.005,
    kernel_size: int = 5,
    iterations: int = 300,
    gamma: float = 1e-3,
    dual_max_iter: int = 50,
    dual_tol: float = 1e-4,
    verify: bool = False,
    return_transport: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, Transport]:
    """Non-targeted FWA adversarial examples for ``x`` (float images in [0, 1]) within Wasserstein budget ``eps``.

    ``verify`` checks the coupling's constraints after every iteration (raising RuntimeError if one is
    broken); ``return_transport`` also returns the :class:`Transport` of the returned images.
    """
    if eps < 0 or kernel_size < 1 or kernel_size % 2 == 0 or iterations < 1 or gamma <= 0 or dual_max_iter < 1 \
            or not 0 < dual_tol < 1:
        raise ValueError("need eps >= 0, an odd kernel_size >= 1, iterations >= 1, gamma > 0, dual_max_iter >= 1, "
                         f"0 < dual_tol < 1; got {eps}, {kernel_size}, {iterations}, {gamma}, {dual_max_iter}, "
                         f"{dual_tol}")
    check_image_batch(x, channels=None, what="FWA input")
    if labels.shape != (len(x),):
        raise ValueError(f"need one label per image ({len(x)}), got shape {tuple(labels.shape)}")
    x = x.detach()
    x32 = x.float()
    n, c, h, w = x.shape
    k2, centre, size = kernel_size * kernel_size, kernel_size * kernel_size // 2, (h, w)
    costs = window_costs(kernel_size, x.device)
    inside = F.unfold(torch.ones(1, 1, h, w, device=x.device), kernel_size, padding=kernel_size // 2) > 0
    inside = inside.view(1, 1, k2, h * w)
    mass = x32.flatten(2)
    budget = eps * mass.sum((1, 2))
    coupling = torch.zeros(n, c, k2, h * w, device=x.device)
    coupling[:, :, centre] = mass  # the identity: all mass stays put
    kept = coupling.clone()
    fooled_once = torch.zeros(n, dtype=torch.bool, device=x.device)
    with frozen(model):
        for t in range(iterations + 1):
            image = column_marginal(coupling, size, kernel_size).requires_grad_(True)
            logits = model(image.clamp(0, 1).to(x.dtype)).float()
            with torch.no_grad():
                fooled = logits.argmax(1) != labels
                kept[fooled] = coupling[fooled]
                fooled_once |= fooled
            if t == iterations:
                break
            (grad,) = torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), image)
            with torch.no_grad():
                grad = F.unfold(grad.float(), kernel_size, padding=kernel_size // 2).view(n, c, k2, h * w)
                grad = grad / grad.abs().amax((1, 2, 3), keepdim=True).clamp_min(1e-12)
                if eps == 0:
                    target = coupling  # the identity is the only feasible coupling
                else:
                    target = _linear_step(grad, mass, budget, costs, inside, eps=eps, gamma=gamma,
                                          max_iter=dual_max_iter, tol=dual_tol)
                coupling.lerp_(target, 2 / (t + 2))
                if verify:
                    _check(coupling, x, eps, kernel_size, t)
    coupling = torch.where(fooled_once.view(n, 1, 1, 1), kept, coupling)  # the last iterate that fooled, else the last
    with torch.no_grad():
        image = column_marginal(coupling, size, kernel_size)
    x_adv = image.clamp(0, 1).to(x.dtype)
    if not return_transport:
        return x_adv
    return x_adv, Transport(coupling=coupling, image=image, cost=transport_cost(coupling, kernel_size), budget=budget,
                            success=fooled_once)


_FWA_FACTS = {"norm": "Wasserstein (local transport)", "budget": "eps * sum(x) per image",
              "variant": "Frank-Wolfe, step 2/(t+2), entropic LMO, lambda by bisection", "loss": "cross-entropy",
              "cost": "Euclidean pixel distance", "post_processing": "clamp to [0, 1] (no capacity projection)",
              "returned": "last iterate, or the last one that fooled"}


def fwa_attack(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, eps: float = 0.005, kernel_size: int = 5,
               iterations: int = 300, gamma: float = 1e-3, dual_max_iter: int = 50, dual_tol: float = 1e-4,
               generator: torch.Generator | None = None, **facts: str) -> torch.Tensor:
    """FWA under a Wasserstein budget (deterministic); ``facts`` are the descriptive parameters of ``_FWA_FACTS``."""
    only("fwa", **{k: (v, _FWA_FACTS.get(k)) for k, v in facts.items()})
    return fwa(model, x, labels, eps=eps, kernel_size=kernel_size,  # type: ignore[return-value]
               iterations=iterations, gamma=gamma, dual_max_iter=dual_max_iter, dual_tol=dual_tol)


register_attack("fwa", fwa_attack,
                {"norm": _FWA_FACTS["norm"], "eps": 0.005, "budget": _FWA_FACTS["budget"], "kernel_size": 5,
                 "iterations": 300, "gamma": 1e-3, "dual_max_iter": 50, "dual_tol": 1e-4}
                | {k: v for k, v in _FWA_FACTS.items() if k not in ("norm", "budget")},
                steps="iterations", summary="FWA: Wasserstein eps 0.005, 300 Frank-Wolfe iterations")
