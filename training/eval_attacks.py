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
from cafd_zoo.cafa import cafa

AttackFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Attack:
    name: str
    params: dict[str, Any]
    run: AttackFn = field(repr=False)


def official_targets(labels: torch.Tensor) -> torch.Tensor:
    """The official code's target rule for PGD_T: class 3, or class 1 when the label is 3."""
    return torch.where(labels == 3, torch.ones_like(labels), torch.full_like(labels, 3))


def _autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, seed: int,
                attacks: list[str] | None = None) -> torch.Tensor:
    """The authors' AutoAttack: ``version="standard"``, or ``custom`` with ``attacks`` (e.g. ["square"])."""
    try:
        from pyautoattack import AutoAttack
    except ImportError as exc:
        raise RuntimeError("AutoAttack needs the authors' package: pip install 'cafd-zoo[eval]' (pyautoattack)") from exc
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
    raise ValueError(f"unknown attack {name!r}; available: {', '.join(ATTACKS)}")


ATTACKS = ("pgd_n", "pgd_t", "cafa", "ti_dim", "ddn", "cw_l2", "autoattack", "square")
