"""Learning-rate schedules as pure functions of the optimizer step, so a resumed run needs no
scheduler state: the rate at step s is the same whether or not the run was interrupted."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Schedule:
    """``multistep``: x ``gamma`` after each epoch in ``milestones`` (the official recipe: 0.2 at
    60/120/160). ``onecycle``: linear warm-up to the peak over ``warmup`` of the run, then linear
    decay to ``final`` x peak. ``cosine``: linear warm-up, then cosine decay to ``final`` x peak."""

    kind: Literal["multistep", "onecycle", "cosine"] = "multistep"
    milestones: tuple[int, ...] = field(default_factory=tuple)
    gamma: float = 0.2
    warmup: float = 0.0
    final: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("multistep", "onecycle", "cosine"):
            raise ValueError(f"schedule kind must be multistep, onecycle or cosine, got {self.kind!r}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of the run in [0, 1), got {self.warmup}")

    def factor(self, step: int, steps_per_epoch: int, total_steps: int) -> float:
        """Multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
        if self.kind == "multistep":
            epoch = step // steps_per_epoch
            return self.gamma ** sum(epoch >= m for m in self.milestones)
        progress = step / max(1, total_steps)
        if progress < self.warmup:
            return (step + 1) / max(1, self.warmup * total_steps)
        rest = (progress - self.warmup) / max(1e-12, 1 - self.warmup)
        if self.kind == "onecycle":
            return self.final + (1 - self.final) * max(0.0, 1 - rest)
        return self.final + (1 - self.final) * 0.5 * (1 + math.cos(math.pi * min(1.0, rest)))
