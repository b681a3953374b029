"""The ``adversarial:`` block of a classifier config: train on attacked batches instead of clean ones.

``{attack: pgd, ...}`` is AT (Madry et al., ICLR 2018): every batch is replaced by L-inf PGD examples.
``{attack: roa, ...}`` is DOA (Wu, Tong and Vorobeychik, ICLR 2020): every batch is replaced by ROA
examples (a gray rectangle placed by exhaustive search, then optimised). Both are crafted against the
weights of the current step, so a run is still a pure function of (seed, step) and resumes exactly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Union

import torch
from torch import nn

from cafd_zoo.attacks import get_attack
from cafd_zoo.precision import autocast


def check_number(name: str, value: Any, ok: Callable[[float], bool], rule: str) -> None:
    """A config number that YAML may have read as a string (``8/255``): named, with the decimal to write."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fraction = isinstance(value, str) and "/" in value
        hint = " (YAML has no fractions: write 8/255 as 0.03137254901960784)" if fraction else ""
        raise ValueError(f"{name} must be a number, got {value!r}{hint}")
    if not ok(value):
        raise ValueError(f"{name} must be {rule}, got {value!r}")


def check_integer(name: str, value: Any, minimum: int) -> None:
    """A config integer (not a bool, not a float) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_flag(name: str, value: Any) -> None:
    """A config switch: true or false, not a string or a number."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True)
class PGDTraining:
    """AT: L-inf PGD with cross-entropy. The defaults are the CAFD paper's AT baseline: Madry et al.'s
    attack at eps 8/255 with 10 steps of 2/255 (Madry's CIFAR-10 run used 7), uniform random start."""

    attack: str = "pgd"
    eps: float = 8 / 255
    steps: int = 10
    step_size: float = 2 / 255
    random_start: bool = True

    def __post_init__(self) -> None:
        if self.attack != "pgd":
            raise ValueError(f"PGDTraining is attack 'pgd', got {self.attack!r}")
        check_number("eps", self.eps, lambda v: 0 < v <= 1, "in (0, 1] (the [0, 1] pixel scale: 8/255 = 0.0313725...)")
        check_integer("steps", self.steps, 1)
        check_number("step_size", self.step_size, lambda v: 0 < v <= 1, "in (0, 1] (the [0, 1] pixel scale)")
        check_flag("random_start", self.random_start)


@dataclass(frozen=True)
class ROATraining:
    """DOA: ROA with exhaustive search. The defaults are the CAFD paper's 7x7 patch, every position
    (stride 1), and Wu et al.'s CIFAR script's 30 steps of 0.05 from a gray patch."""

    attack: str = "roa"
    size: int = 7
    stride: int = 1
    steps: int = 30
    step_size: float = 0.05
    random_start: bool = False

    def __post_init__(self) -> None:
        if self.attack != "roa":
            raise ValueError(f"ROATraining is attack 'roa', got {self.attack!r}")
        check_integer("size", self.size, 1)
        check_integer("stride", self.stride, 1)
        check_integer("steps", self.steps, 0)
        check_number("step_size", self.step_size, lambda v: 0 < v <= 1, "in (0, 1] (the [0, 1] pixel scale)")
        check_flag("random_start", self.random_start)


AdversarialTraining = Union[PGDTraining, ROATraining]
KINDS: dict[str, type] = {"pgd": PGDTraining, "roa": ROATraining}
REGISTERED = {"pgd": "pgd_n", "roa": "roa"}  # each one's name in cafd_zoo.attacks


def adversarial_from_dict(raw: Any, where: str) -> AdversarialTraining:
    """Read an ``adversarial:`` mapping; every mistake is a ValueError that names ``where`` and the fix."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping such as "
                         f"{{attack: pgd, eps: 0.0313725, steps: 10, step_size: 0.00784314}}, got {raw!r}")
    kind = KINDS.get(raw["attack"]) if isinstance(raw.get("attack"), str) else None
    if kind is None:
        raise ValueError(f"{where}: attack must be 'pgd' (AT, Madry et al.) or 'roa' (DOA, Wu et al.), "
                         f"got {raw.get('attack')!r}")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for attack {raw['attack']!r}; known: {sorted(known)}")
    try:
        return kind(**raw)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def attack_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """The random source of step ``step``'s attack on rank ``rank``: a function of (seed, step, rank) alone,
    apart from the augmentation's stream, so a resumed run crafts exactly the examples it would have."""
    return torch.Generator(device=device).manual_seed(2**40 + seed * 1_000_003 + step * 101 + rank)


def adversarial_batch(
    spec: AdversarialTraining,
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    *,
    generator: torch.Generator,
    precision: str = "fp32",
) -> torch.Tensor:
    """The attacked copy of a training batch, crafted against ``model`` (the bare module, not a DDP wrapper).

    The attack sees the model in eval mode (both attacks run under ``cafd_zoo.frozen``), for two reasons.
    In train mode every one of its forward passes would move the BatchNorm running statistics towards
    half-finished adversarial batches (10 extra momentum updates a step for PGD-10, hundreds for the ROA
    search), so the statistics used at test time would describe no distribution the model was trained
    on. And in eval mode an example depends on its own image and the weights only, not on the rest of
    the batch. The training step that follows runs in train mode as usual.
    """
    if not isinstance(spec, (PGDTraining, ROATraining)):
        raise TypeError(f"adversarial must be a PGDTraining or an ROATraining, got {type(spec).__name__}")
    params = {k: v for k, v in dataclasses.asdict(spec).items() if k != "attack"}
    with autocast(precision, x.device):  # type: ignore[arg-type]
        return get_attack(REGISTERED[spec.attack]).fn(model, x, labels, **params, generator=generator)
