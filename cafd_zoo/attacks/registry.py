"""One registry of attacks: name -> function and its defaults, so every caller runs and records them alike.

Each registered function is ``fn(model, x, y, **params) -> x_adv`` (plus the run-time ``generator``, and for
attacks that measure something, ``meter``). :func:`build_attack` fixes the parameters once; the
:class:`Attack` it returns runs ``fn`` with exactly ``attack.params`` as keyword arguments, so a results row
that records ``attack.params`` cannot disagree with what ran. Some parameters only describe the algorithm
(``norm``, a solver's name): the function accepts them and refuses any value but the one it implements.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any, Callable, Mapping, Protocol

import torch
from torch import nn

AttackFn = Callable[..., torch.Tensor]


class Meter(Protocol):
    """What an attack measures batch by batch (STA: its success rate and flow size; AutoAttack: how many images
    each of its stages left unbroken), summed up per results row."""

    def add(self, stats: Any) -> None: ...

    def summary(self) -> dict[str, Any] | None:
        """What was measured since the last call (then forgotten); None when it cannot be told for every batch."""
        ...

    def last_batch(self) -> dict[str, torch.Tensor]:
        """The tensors :meth:`summary` needs of the batch added last, to keep beside its adversarial examples."""
        ...

    def add_saved(self, saved: dict[str, torch.Tensor]) -> None:
        """Add a batch from what :meth:`last_batch` gave (an adversarial cache hit: the batch is not crafted again)."""
        ...


@dataclass(frozen=True)
class AttackEntry:
    """A registered attack. ``eps``, ``steps`` and ``step_size`` name the parameters a budget sets (None where the
    attack has no such budget, e.g. the minimum-norm CW-L2 has no eps); ``derived`` fills parameters that follow
    from the others (TI-DIM's step size is eps / steps)."""

    name: str
    fn: AttackFn
    defaults: Mapping[str, Any]
    eps: str | None = None
    steps: str | None = None
    step_size: str | None = None
    derived: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    meter: Callable[[], Meter] | None = None
    summary: str = ""
    # what decides the examples besides the parameters, for the adversarial cache: bump ``revision`` when a change
    # to the code changes what the attack crafts with the same parameters; ``library`` names the distribution that
    # implements it (its installed version is recorded with each cached batch, and another version crafts anew)
    revision: int = 0
    library: str | None = None


@dataclass
class Attack:
    """An attack with every parameter fixed: ``attack(model, x, y, generator)`` runs ``fn(model, x, y, **params)``."""

    name: str
    params: dict[str, Any]
    entry: AttackEntry = field(repr=False)
    meter: Meter | None = field(default=None, repr=False)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        hooks = {"meter": self.meter} if self.meter is not None else {}
        return self.entry.fn(model, x, y, **self.params, generator=generator, **hooks)

    run = __call__

    def measured(self) -> dict[str, Any] | None:
        """What the attack measured since the last call (None for attacks that measure nothing)."""
        return self.meter.summary() if self.meter is not None else None


_REGISTRY: dict[str, AttackEntry] = {}


def register_attack(name: str, fn: AttackFn, defaults: Mapping[str, Any], **options: Any) -> AttackEntry:
    """Add ``fn`` under ``name`` with its ``defaults`` (every parameter it records, in order)."""
    if name in _REGISTRY:
        raise ValueError(f"attack {name!r} is registered twice")
    entry = AttackEntry(name, fn, dict(defaults), **options)
    _REGISTRY[name] = entry
    return entry


def list_attacks(pattern: str = "*") -> list[str]:
    """The registered attack names matching a shell-style ``pattern``, in registration order."""
    return [name for name in _REGISTRY if fnmatch(name, pattern)]


def get_attack(name: str) -> AttackEntry:
    """The registered attack ``name``; an unknown one lists those there are."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown attack {name!r}; available: {', '.join(_REGISTRY)}") from None


def build_attack(name: str, *, eps: float | None = None, steps: int | None = None, step_size: float | None = None,
                 seed: int | None = None, **params: Any) -> Attack:
    """``name`` with its defaults, the budget (``eps``, ``steps``, ``step_size``: each ignored by attacks without
    it), ``seed`` (for attacks that take one) and any parameter overridden by name."""
    entry = get_attack(name)
    unknown = sorted(set(params) - set(entry.defaults))
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {unknown}; it takes {list(entry.defaults)}")
    budget = {entry.eps: eps, entry.steps: steps, entry.step_size: step_size,
              "seed" if "seed" in entry.defaults else None: seed}
    chosen = {k: v for k, v in budget.items() if k is not None and v is not None} | params
    resolved = {**entry.defaults, **chosen}
    if entry.derived is not None:
        resolved |= {k: v for k, v in entry.derived(resolved).items() if k not in chosen}
    return Attack(name, resolved, entry, entry.meter() if entry.meter else None)


def only(attack: str, **given: tuple[Any, Any]) -> None:
    """Refuse a descriptive parameter whose value is not the one ``attack`` implements:
    ``only("x", norm=(n, "L2"))``."""
    for key, (value, implemented) in given.items():
        if value != implemented:
            raise ValueError(f"{attack} implements {key}={implemented!r} only, got {value!r}")


def official_targets(labels: torch.Tensor) -> torch.Tensor:
    """The official code's target rule for targeted attacks: class 3, or class 1 when the label is 3."""
    return torch.where(labels == 3, torch.ones_like(labels), torch.full_like(labels, 3))


OFFICIAL_TARGET = "3, or 1 when the label is 3 (official)"
