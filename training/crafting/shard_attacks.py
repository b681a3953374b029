"""The attacks that make a denoiser's offline training pairs: CAFA for CAFD, CW-L2 and PGD for the baselines.

The paper trains every baseline (HGD, APE-G) on non-targeted CW-L2 examples of the training set, and the
primed variants HGD' / APE-G' of its Table 3 on PGD-20 examples. All three are crafted once, against the
frozen classifier, into the same uint8 shards (training/crafting/shard_files.py) by ``craft_shards(..., attack=...)``;
the shard folder's provenance records the attack and every parameter. A CAFA folder keeps the provenance
it always had (``preset`` and ``cafa`` keys, no ``attack`` key), so existing folders still resume.

CW-L2 and PGD attack the true label; CW-L2 is deterministic, PGD's random start comes from the generator
the crafting loop seeds per (seed, shard, batch). CW-L2 is a minimum-norm attack: rounding its output to
8 bits can undo some of the smallest perturbations (kappa = 1 keeps a margin); the crafting log reports the
fraction of stored images whose prediction still differs from the natural one.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cafd_zoo.attacks import get_attack
from cafd_zoo.cafa import resolve_config

from .shard_files import PROVENANCE

ATTACKS = ("cafa", "cw_l2", "pgd")
REGISTERED = {"cafa": "cafa", "cw_l2": "cw_l2", "pgd": "pgd_n"}  # each one's name in cafd_zoo.attacks
PGD_DEFAULTS = {"eps": 8 / 255, "steps": 20, "step_size": 2 / 255, "random_start": True}  # the paper's PGD-20
CW_DEFAULTS = {"confidence": 1.0, "initial_const": 1.0, "binary_search_steps": 4, "max_iterations": 100,
               "learning_rate": 0.01, "abort_early": True}  # cafd_zoo.attacks.cw's defaults, the paper's code's


@dataclass(frozen=True)
class TrainingAttack:
    """One attack with all its parameters: ``attack(model, x, labels, generator)`` -> x_adv in [0, 1]."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None  # CAFA's preset name, kept in its provenance

    @property
    def label(self) -> str:
        return {"cafa": "CAFA", "cw_l2": "CW-L2", "pgd": "PGD"}[self.name]

    def provenance(self) -> dict[str, Any]:
        """What the shard folder records about the attack (CAFA: its historical keys)."""
        if self.name == "cafa":
            return {"preset": self.preset, "cafa": dict(self.params)}
        return {"attack": self.name, "attack_params": dict(self.params)}

    def __call__(self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
                 generator: torch.Generator | None) -> torch.Tensor:
        """Runs the registered attack with exactly the recorded parameters (CAFA: its preset too)."""
        params = {"preset": self.preset, **self.params} if self.name == "cafa" else self.params
        return get_attack(REGISTERED[self.name]).fn(model, x, labels, **params, generator=generator)


def training_attack(name: str, *, preset: str = "official", steps: int | None = None,
                    **overrides: float | int | None) -> TrainingAttack:
    """The attack ``name`` (cafa, cw_l2, pgd) with its defaults, ``steps`` and any of its parameters overridden.

    ``steps`` is CAFA's or PGD's number of steps, or CW-L2's iterations per binary-search step. ``None``
    values keep the default. CAFA takes ``preset`` (official or paper) and ``steps`` only.
    """
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {list(ATTACKS)}, got {name!r}")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if name == "cafa":
        if overrides:
            raise ValueError(f"CAFA takes preset and steps only, got {sorted(overrides)}")
        return TrainingAttack("cafa", dataclasses.asdict(resolve_config(preset, steps=steps)), preset)
    defaults = PGD_DEFAULTS if name == "pgd" else CW_DEFAULTS
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {unknown}; it takes {sorted(defaults)} and steps")
    params = dict(defaults) | overrides
    if steps is not None:
        params["steps" if name == "pgd" else "max_iterations"] = steps
    return TrainingAttack(name, params)


def shard_attack(folder: str | Path) -> str:
    """Which attack made the shards in ``folder``: the provenance's ``attack``, or ``cafa`` (older folders)."""
    path = Path(folder) / PROVENANCE
    try:
        provenance = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{folder} is not a shard folder ({exc}); make one with "
                                "`python -m training craft-adversarial`") from exc
    return provenance.get("attack", "cafa")


def check_shard_attack(folder: str | Path, expected: str) -> None:
    """Refuse shards of another attack than the one the denoiser config trains on."""
    found = shard_attack(folder)
    if found != expected:
        raise ValueError(f"{folder} holds {found} examples, but the config trains on {expected} (training_attack); "
                         f"craft them with `python -m training craft-adversarial --attack {expected}`")
