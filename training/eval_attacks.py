"""The attacks the evaluation harness runs, by name, each with every parameter it records.

An attack is ``fn(model, x, y, generator) -> x_adv`` plus its parameters; labels are used as each
attack's definition says (CAFA ignores them; PGD_T aims at the official target class).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from cafd_zoo.attacks import carlini_wagner_l2, ddn, pgd, ti_dim
from cafd_zoo.attacks.fwa import fwa
from cafd_zoo.attacks.roa import roa
from cafd_zoo.attacks.sta import SpatialStats, sta
from cafd_zoo.cafa import cafa

AttackFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Attack:
    """``measured``, for attacks with no norm budget (STA), returns what they measured on the images run since
    its last call (success rate, flow size), so each result row can carry it beside the error rate."""

    name: str
    params: dict[str, Any]
    run: AttackFn = field(repr=False)
    measured: Callable[[], dict[str, float | None]] | None = field(default=None, repr=False)


class _FlowRecord:
    """STA's per-image statistics, gathered batch by batch and summed up (then forgotten) per result row."""

    def __init__(self) -> None:
        self.batches: list[SpatialStats] = []

    def summary(self) -> dict[str, float | None]:
        success = torch.cat([s.success for s in self.batches])
        moved = success.any()
        magnitude = torch.cat([s.magnitude for s in self.batches])[success]
        smoothness = torch.cat([s.smoothness for s in self.batches])[success]
        self.batches.clear()
        return {"success_rate": float(success.float().mean()),
                "mean_flow_magnitude_px": float(magnitude.mean()) if moved else None,
                "mean_flow_loss": float(smoothness.mean()) if moved else None}


def official_targets(labels: torch.Tensor) -> torch.Tensor:
    """The official code's target rule for PGD_T: class 3, or class 1 when the label is 3."""
    return torch.where(labels == 3, torch.ones_like(labels), torch.full_like(labels, 3))


class _FloatLogits(nn.Module):
    """Logits in fp32 whatever the autocast: pyautoattack's Square mixes bf16 margins with fp32 ones in one
    indexed assignment and fails ("Index put requires the source and destination dtypes match") as soon as it
    runs, that is, whenever the gradient attacks before it leave an image unbroken."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).float()


def _autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int,
                attacks: list[str] | None = None) -> torch.Tensor:
    """The authors' AutoAttack: ``version="standard"``, or ``custom`` with ``attacks`` (e.g. ["square"])."""
    try:
        from pyautoattack import AutoAttack
    except ImportError as exc:
        raise RuntimeError("AutoAttack needs the authors' package: pip install 'cafd-zoo[eval]' (pyautoattack)") from exc
    model = _FloatLogits(model)
    if attacks is None:
        attack = AutoAttack(model, eps=eps, norm="Linf", version="standard", seed=seed, device=x.device)
    else:
        attack = AutoAttack(model, eps=eps, norm="Linf", version="custom", attacks=attacks, seed=seed, device=x.device)
    x_adv, _ = attack.run_standard_evaluation(x, y, batch_size=len(x))
    return x_adv


def build_attack(name: str, *, eps: float = 8 / 255, steps: int | None = None, seed: int = 0,
                 step_size: float | None = None) -> Attack:
    """One of :data:`ATTACKS` at L-inf ``eps`` (DDN and CW-L2 are minimum-L2: no eps); ``steps`` overrides the
    default number of steps (CW-L2: iterations per binary-search step), ``step_size`` PGD's 2/255."""
    step = step_size or 2 / 255
    if name == "pgd_n":
        params = {"norm": "Linf", "eps": eps, "steps": steps or 20, "step_size": step, "random_start": True}
        return Attack(name, params, lambda m, x, y, g: pgd(m, x, y, eps=eps, steps=params["steps"], step_size=step, generator=g))
    if name == "pgd_t":
        params = {"norm": "Linf", "eps": eps, "steps": steps or 20, "step_size": step, "random_start": True,
                  "target": "3, or 1 when the label is 3 (official)"}
        return Attack(name, params, lambda m, x, y, g: pgd(m, x, y, eps=eps, steps=params["steps"], step_size=step,
                                                           targets=official_targets(y), generator=g))
    if name == "cafa":
        params = {"preset": "official", "eps": eps, "steps": steps or 100, "step_size": 0.01, "labels": "unused"}
        return Attack(name, params, lambda m, x, y, g: cafa(m, x, eps=eps, steps=params["steps"], generator=g))
    if name == "ti_dim":
        params = {"norm": "Linf", "eps": eps, "steps": steps or 10, "step_size": eps / (steps or 10), "decay": 1.0,
                  "kernel": "gaussian 7x7, 3 sigma", "resize_rate": 0.9, "diversity_prob": 0.5}
        return Attack(name, params, lambda m, x, y, g: ti_dim(m, x, y, eps=eps, steps=params["steps"], generator=g))
    if name == "ddn":
        params = {"norm": "L2", "budget": "none (minimum norm)", "steps": steps or 100, "gamma": 0.05, "init_norm": 1.0,
                  "levels": 256}
        return Attack(name, params, lambda m, x, y, g: ddn(m, x, y, steps=params["steps"]))
    if name == "cw_l2":
        params = {"norm": "L2", "budget": "none (minimum norm)", "binary_search_steps": 4, "initial_const": 1.0,
                  "confidence": 1.0, "learning_rate": 0.01, "max_iterations": steps or 100}
        return Attack(name, params, lambda m, x, y, g: carlini_wagner_l2(m, x, y, max_iterations=params["max_iterations"]))
    if name == "autoattack":
        params = {"version": "standard", "norm": "Linf", "eps": eps, "seed": seed, "package": "pyautoattack"}
        return Attack(name, params, lambda m, x, y, g: _autoattack(m, x, y, eps, seed))
    if name == "square":
        params = {"norm": "Linf", "eps": eps, "queries": 5000, "p_init": 0.8, "seed": seed,
                  "package": "pyautoattack (gradient-free: a check for gradient masking)"}
        return Attack(name, params, lambda m, x, y, g: _autoattack(m, x, y, eps, seed, attacks=["square"]))
    if name == "roa":  # an occlusion, not an L-inf attack: eps does not apply
        params = {"norm": "patch", "size": 7, "stride": 1, "search": "exhaustive", "fill": 0.5, "steps": steps or 30,
                  "step_size": step_size or 0.05, "random_start": False}
        return Attack(name, params, lambda m, x, y, g: roa(m, x, y, size=7, stride=1, steps=params["steps"],
                                                           step_size=params["step_size"], generator=g))
    if name in ("sta", "sta_t"):  # a smooth flow, not an L-inf attack: eps does not apply
        params = {"norm": "none (flow smoothness penalty)", "tau": 0.05, "iterations": steps or 100, "kappa": 0.0,
                  "delta": 1e-8, "search_steps": 5, "initial_const": 1.0,
                  "const_search": "per image: x10 while it resists, bisected once it falls (advertorch's)",
                  "solver": "torch.optim.LBFGS, strong Wolfe, history 10",
                  "warp": "bilinear grid_sample, border padding, align_corners=True", "failures": "returned unchanged"}
        if name == "sta_t":
            params["target"] = "3, or 1 when the label is 3 (official)"
        record = _FlowRecord()

        def run_sta(m: nn.Module, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> torch.Tensor:
            x_adv, stats = sta(m, x, y, tau=0.05, iterations=params["iterations"], kappa=0.0, delta=1e-8,
                               history_size=10, search_steps=5, initial_const=1.0,
                               targets=official_targets(y) if name == "sta_t" else None, return_stats=True)
            record.batches.append(stats)
            return x_adv
        return Attack(name, params, run_sta, measured=record.summary)
    if name == "fwa":  # a Wasserstein budget (fraction of the image's mass times pixels moved), not L-inf eps
        params = {"norm": "Wasserstein (local transport)", "eps": 0.005, "budget": "eps * sum(x) per image",
                  "kernel_size": 5, "iterations": steps or 300, "gamma": 1e-3, "dual_max_iter": 50, "dual_tol": 1e-4,
                  "variant": "Frank-Wolfe, step 2/(t+2), entropic LMO, lambda by bisection", "loss": "cross-entropy",
                  "cost": "Euclidean pixel distance", "post_processing": "clamp to [0, 1] (no capacity projection)",
                  "returned": "last iterate, or the last one that fooled"}
        return Attack(name, params, lambda m, x, y, g: fwa(
            m, x, y, eps=0.005, kernel_size=5, iterations=params["iterations"], gamma=1e-3, dual_max_iter=50,
            dual_tol=1e-4))
    raise ValueError(f"unknown attack {name!r}; available: {', '.join(ATTACKS)}")


ATTACKS = ("pgd_n", "pgd_t", "cafa", "ti_dim", "ddn", "cw_l2", "autoattack", "square", "roa", "sta", "sta_t", "fwa")
