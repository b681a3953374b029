"""STA, the spatially transformed attack (Xiao et al., ICLR 2018): the paper's STA and STA_T columns.

Instead of adding noise, STA moves pixels: a per-pixel flow f (in pixels, (u, v) = (across, down))
resamples x bilinearly at grid + f (``F.grid_sample``, ``align_corners=True``, border padding). It
minimises, with L-BFGS, the C&W margin loss (kappa = 0) plus tau * L_flow, where

    L_flow(f) = sum_p sum_{q in N(p)} sqrt(|u_p - u_q|^2 + |v_p - v_q|^2 + delta)

over the 4-neighbours q of every pixel p inside the image (each neighbouring pair counts twice,
once from each end, as the sum is written); delta keeps the gradient finite at zero flow.
tau = 0.05 is the paper's. The loss is a per-sample sum, so the objective couples no samples
(L-BFGS's line search and curvature pairs are shared by the batch, so an image's result can still
depend a little on its batch mates; fixed batches keep it reproducible).

With a fixed weight tau, the smoothness term wins on many images (it is L1-like: a restoring force
of up to 8 tau per pixel against a margin gradient that is often far smaller), so a single solve fools
only part of a test set (about half of the compact ResNet-20's images at tau 0.05). The paper took STA
from advertorch, which searches, per image, the constant c of ``c * margin + tau * L_flow``: c grows
tenfold while an image resists and is bisected once it falls. ``search_steps`` does the same here, each
step a fresh L-BFGS solve from zero flow; ``search_steps=1`` is the single solve at c = ``initial_const``.

Returns per image the successful x' with the smallest L_flow seen at any function evaluation, and
an image never fooled exactly as it came (advertorch's ``SpatialTransformAttack`` returns zeros
there). STA has no norm budget: ``return_stats=True`` also returns the success rate, flow magnitude
and L_flow, to report beside the error rates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..frozen import frozen
from ..input_checks import check_image_batch
from .cw import cw_margin
from .registry import OFFICIAL_TARGET, official_targets, only, register_attack


def flow_loss(flow: torch.Tensor, delta: float = 1e-8) -> torch.Tensor:
    """L_flow per sample of a (N, 2, H, W) flow in pixels: the smoothness penalty of the module docstring."""
    across = flow[..., :, 1:] - flow[..., :, :-1]
    down = flow[..., 1:, :] - flow[..., :-1, :]
    total = across.square().sum(1).add(delta).sqrt().flatten(1).sum(1)
    total = total + down.square().sum(1).add(delta).sqrt().flatten(1).sum(1)
    return 2 * total  # each pair is a neighbour of both its ends


def flow_magnitude(flow: torch.Tensor) -> torch.Tensor:
    """Mean displacement per sample, in pixels: the mean over pixels of sqrt(u^2 + v^2)."""
    return flow.square().sum(1).sqrt().flatten(1).mean(1)


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling of ``x`` at pixel positions grid + ``flow`` (border padding): x' of STA."""
    n, _, h, w = x.shape
    ys = torch.arange(h, device=x.device, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, device=x.device, dtype=torch.float32).view(1, 1, w)
    across = (xs + flow[:, 0]) * (2 / max(w - 1, 1)) - 1  # align_corners=True: -1 and 1 are the corner pixel centres
    down = (ys + flow[:, 1]) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack((across, down), dim=-1)
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)


@dataclass(frozen=True)
class SpatialStats:
    """Per image: ``success`` (fooled, or target hit), the ``flow`` behind the returned x' (zero for a
    failure), its ``magnitude`` (mean pixel displacement) and ``smoothness`` (L_flow). The means are
    over successes only (NaN when there is none): a failure moved nothing."""

    success: torch.Tensor
    flow: torch.Tensor
    magnitude: torch.Tensor
    smoothness: torch.Tensor

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean())

    @property
    def mean_flow_magnitude(self) -> float:
        return float(self.magnitude[self.success].mean()) if self.success.any() else math.nan

    @property
    def mean_flow_loss(self) -> float:
        return float(self.smoothness[self.success].mean()) if self.success.any() else math.nan


def sta(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    tau: float = 0.05,
    iterations: int = 100,
    targets: torch.Tensor | None = None,
    kappa: float = 0.0,
    delta: float = 1e-8,
    history_size: int = 10,
    search_steps: int = 1,
    initial_const: float = 1.0,
    return_stats: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, SpatialStats]:
    """STA adversarial examples for ``x`` (float images in [0, 1]); ``targets=`` makes it targeted (STA_T).

    ``iterations`` is L-BFGS's ``max_iter`` per search step (strong Wolfe line search, at most 1.25 x as
    many model evaluations); ``search_steps`` solves with a per-image constant on the margin, searched as
    the module docstring says. With ``return_stats`` returns ``(x_adv, SpatialStats)``.
    """
    if (tau < 0 or iterations < 1 or kappa < 0 or delta <= 0 or history_size < 1 or search_steps < 1
            or initial_const <= 0):
        raise ValueError("need tau >= 0, iterations >= 1, kappa >= 0, delta > 0, history_size >= 1, search_steps >= 1, "
                         f"initial_const > 0; got {tau}, {iterations}, {kappa}, {delta}, {history_size}, "
                         f"{search_steps}, {initial_const}")
    check_image_batch(x, channels=None, what="STA input")
    goal = labels if targets is None else targets
    if goal.shape != (len(x),):
        what = "label" if targets is None else "target"
        raise ValueError(f"need one {what} per image ({len(x)}), got shape {tuple(goal.shape)}")
    x = x.detach()
    n, _, h, w = x.shape
    best_flow = torch.zeros(n, 2, h, w, device=x.device, dtype=torch.float32)
    best_loss = torch.full((n,), math.inf, device=x.device)
    success = torch.zeros(n, dtype=torch.bool, device=x.device)
    const = torch.full((n,), float(initial_const), device=x.device)
    lower, upper = torch.zeros_like(const), torch.full_like(const, math.inf)

    def solve() -> torch.Tensor:
        """One L-BFGS solve of sum_i const_i * margin_i + tau * L_flow_i from zero flow; which images it fooled."""
        flow = torch.zeros_like(best_flow, requires_grad=True)
        fooled = torch.zeros_like(success)
        optimizer = torch.optim.LBFGS([flow], lr=1.0, max_iter=iterations, history_size=history_size,
                                      line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            nonlocal best_loss
            optimizer.zero_grad(set_to_none=True)
            logits = model(warp(x, flow)).float()
            margin = cw_margin(logits, goal) if targets is None else -cw_margin(logits, goal)
            smoothness = flow_loss(flow, delta)
            loss = (const * margin.clamp_min(-kappa) + tau * smoothness).sum()
            loss.backward()
            with torch.no_grad():  # every evaluated flow is a real candidate, line-search trials included
                hit = logits.argmax(1) != labels if targets is None else logits.argmax(1) == targets
                better = hit & (smoothness < best_loss)
                best_loss = torch.where(better, smoothness, best_loss)
                best_flow[better] = flow.detach()[better]
                fooled.logical_or_(hit)
            return loss

        optimizer.step(closure)
        return fooled

    with frozen(model):
        for _ in range(search_steps):
            fooled = solve()
            success |= fooled
            upper = torch.where(fooled, torch.minimum(upper, const), upper)
            lower = torch.where(fooled, lower, torch.maximum(lower, const))
            const = torch.where(upper.isinf(), const * 10, (lower + upper) / 2)
    with torch.no_grad():
        x_adv = x.clone()
        moved = success & best_flow.flatten(1).any(1)  # fooled at zero flow (misclassified already): x itself
        x_adv[moved] = warp(x[moved], best_flow[moved]).to(x.dtype).clamp_(0, 1)
    if not return_stats:
        return x_adv
    stats = SpatialStats(success=success, flow=best_flow, magnitude=flow_magnitude(best_flow),
                         smoothness=flow_loss(best_flow, delta))
    return x_adv, stats


class FlowMeter:
    """STA's per-image statistics, gathered batch by batch and summed up (then forgotten) per results row."""

    def __init__(self) -> None:
        self.batches: list[SpatialStats] = []

    def add(self, stats: SpatialStats) -> None:
        self.batches.append(stats)

    def last_batch(self) -> dict[str, torch.Tensor]:
        last = self.batches[-1]
        return {"success": last.success, "magnitude": last.magnitude, "smoothness": last.smoothness}

    def add_saved(self, saved: dict[str, torch.Tensor]) -> None:  # the flow itself is not kept: no summary needs it
        self.batches.append(SpatialStats(success=saved["success"], flow=torch.empty(0), magnitude=saved["magnitude"],
                                         smoothness=saved["smoothness"]))

    def summary(self) -> dict[str, float | None]:
        success = torch.cat([s.success for s in self.batches])
        moved = success.any()
        magnitude = torch.cat([s.magnitude for s in self.batches])[success]
        smoothness = torch.cat([s.smoothness for s in self.batches])[success]
        self.batches.clear()
        return {"success_rate": float(success.float().mean()),
                "mean_flow_magnitude_px": float(magnitude.mean()) if moved else None,
                "mean_flow_loss": float(smoothness.mean()) if moved else None}


_STA_FACTS = {"norm": "none (flow smoothness penalty)",
              "const_search": "per image: x10 while it resists, bisected once it falls (advertorch's)",
              "solver": "torch.optim.LBFGS, strong Wolfe, history 10",
              "warp": "bilinear grid_sample, border padding, align_corners=True", "failures": "returned unchanged"}


def _sta_run(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor | None, tau: float,
             iterations: int, kappa: float, delta: float, search_steps: int, initial_const: float,
             facts: dict[str, str], meter: FlowMeter | None) -> torch.Tensor:
    only("sta", **{k: (v, _STA_FACTS.get(k)) for k, v in facts.items()})
    x_adv, stats = sta(model, x, labels, tau=tau, iterations=iterations, kappa=kappa, delta=delta, history_size=10,
                       search_steps=search_steps, initial_const=initial_const, targets=targets, return_stats=True)
    if meter is not None:
        meter.add(stats)
    return x_adv


def sta_untargeted(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, tau: float = 0.05,
                   iterations: int = 100, kappa: float = 0.0, delta: float = 1e-8, search_steps: int = 5,
                   initial_const: float = 1.0, generator: torch.Generator | None = None, meter: FlowMeter | None = None,
                   **facts: str) -> torch.Tensor:
    """STA with the constant search; ``facts`` are the descriptive parameters of ``_STA_FACTS``."""
    return _sta_run(model, x, labels, None, tau, iterations, kappa, delta, search_steps, initial_const, facts, meter)


def sta_official_target(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, tau: float = 0.05,
                        iterations: int = 100, kappa: float = 0.0, delta: float = 1e-8, search_steps: int = 5,
                        initial_const: float = 1.0, target: str = OFFICIAL_TARGET,
                        generator: torch.Generator | None = None, meter: FlowMeter | None = None,
                        **facts: str) -> torch.Tensor:
    """STA_T: aims at the official code's target class."""
    only("sta_t", target=(target, OFFICIAL_TARGET))
    return _sta_run(model, x, labels, official_targets(labels), tau, iterations, kappa, delta, search_steps,
                    initial_const, facts, meter)


_STA = {"norm": _STA_FACTS["norm"], "tau": 0.05, "iterations": 100, "kappa": 0.0, "delta": 1e-8, "search_steps": 5,
        "initial_const": 1.0} | {k: v for k, v in _STA_FACTS.items() if k != "norm"}
register_attack("sta", sta_untargeted, _STA, steps="iterations", meter=FlowMeter,
                summary="STA: a smooth flow (tau 0.05), L-BFGS, per-image constant search")
register_attack("sta_t", sta_official_target, _STA | {"target": OFFICIAL_TARGET}, steps="iterations", meter=FlowMeter,
                summary="targeted STA (official target class)")
