"""AutoAttack and its gradient-free Square (Croce and Hein 2020), from the authors' ``pyautoattack`` package.

An optional dependency (``pip install 'cafd-zoo[eval]'``), imported when an attack runs, not before.
"""
from __future__ import annotations

import logging
import re
import warnings
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from ..frozen import frozen
from ..progress import note
from .registry import only, register_attack


class _ContiguousGradient(torch.autograd.Function):
    """The identity, whose gradient comes back in the standard (NCHW) layout: pyautoattack's APGD-T and FAB-T
    flatten input gradients with ``.view``, which fails on the channels_last gradient of a channels_last model."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx,  # type: ignore[override]
                 grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


class _FloatLogits(nn.Module):
    """What pyautoattack can attack, whatever the autocast and memory layout of the evaluation:

    - fp32 logits: its Square mixes bf16 margins with fp32 ones in one indexed assignment and fails ("Index put
      requires the source and destination dtypes match");
    - NCHW images and input gradients: APGD-T and FAB-T flatten both with ``.view`` (``run`` hands pyautoattack
      NCHW images; ``_ContiguousGradient``), while the model still sees the evaluation's ``memory_format``.

    Both failures show only once an attack has images left to attack after APGD-CE, that is, on a robust model."""

    def __init__(self, model: nn.Module, memory_format: torch.memory_format = torch.contiguous_format) -> None:
        super().__init__()
        self.model = model
        self.memory_format = memory_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(_ContiguousGradient.apply(x).contiguous(memory_format=self.memory_format)).float()


def _layout(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous() else torch.contiguous_format


def _run(attack: object, model: _FloatLogits, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """pyautoattack on NCHW images; the examples come back in ``x``'s layout."""
    x_adv = attack.run_standard_evaluation(x.contiguous(), y, batch_size=len(x))[0]  # type: ignore[attr-defined]
    return x_adv.contiguous(memory_format=model.memory_format)


def _autoattack_class() -> type:
    try:
        from pyautoattack import AutoAttack
    except ImportError as exc:
        raise RuntimeError("AutoAttack needs the authors' package: pip install 'cafd-zoo[eval]' "
                           "(pyautoattack)") from exc
    return AutoAttack


STAGES = ("clean", "apgd-ce", "apgd-t", "fab-t", "square")  # the standard version's order, after the clean check
_STAGE_LINE = re.compile(r"^(?:initial accuracy|robust accuracy after ([A-Z-]+)): ([0-9.]+)%")


class AutoAttackMeter:
    """How many images each stage of AutoAttack's ensemble left unbroken, summed per results row.

    Why: the share that the gradient-free Square breaks after the gradient attacks is AutoAttack's own check for
    gradient masking (pyautoattack's ``check_square_sr``). pyautoattack keeps these counts in a local variable and
    only logs them, so they are read from its log lines (percentages of a batch, exact to the image)."""

    def __init__(self) -> None:
        self.batches: list[torch.Tensor | None] = []  # per batch: [n, then the unbroken count after each stage]

    def add(self, counts: torch.Tensor | None) -> None:
        self.batches.append(counts)

    def last_batch(self) -> dict[str, torch.Tensor]:
        last = self.batches[-1]
        return {} if last is None else {"robust_after": last}

    def add_saved(self, saved: dict[str, torch.Tensor]) -> None:
        self.batches.append(saved.get("robust_after"))  # None: a batch cached before this meter existed

    def summary(self) -> dict[str, object] | None:
        """The counts summed over the row's batches; None if one of them has none (the sum would cover fewer)."""
        batches, self.batches = self.batches, []
        if not batches or any(b is None for b in batches):
            return None
        total = torch.stack(batches).sum(0).tolist()  # type: ignore[arg-type]
        return {"n": int(total[0]), "robust_after": dict(zip(STAGES, (int(c) for c in total[1:])))}


@contextmanager
def _stage_counts(n: int, into: list[int]) -> Iterator[None]:
    """Collect pyautoattack's per-stage robust accuracies (its DEBUG log lines) as image counts into ``into``."""
    logger = logging.getLogger("auto-attack")

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = _STAGE_LINE.match(record.getMessage())
            if found and (stage := (found.group(1) or "CLEAN").lower()) in STAGES:
                into.append(round(float(found.group(2)) * n / 100))
                note(f"AutoAttack: {into[-1]} of {n} images unbroken after {stage}")

    handler, level, propagate = Collect(logging.DEBUG), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # its DEBUG lines go to the meter, not to whatever the root logger prints
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def autoattack_standard(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float = 8 / 255, seed: int = 0,
                        version: str = "standard", norm: str = "Linf", package: str = "pyautoattack",
                        generator: torch.Generator | None = None, meter: AutoAttackMeter | None = None) -> torch.Tensor:
    """AutoAttack's standard L-inf ensemble (APGD-CE, APGD-T, FAB-T, Square), seeded by ``seed``; ``meter`` gets
    how many images each stage left unbroken."""
    only("autoattack", version=(version, "standard"), norm=(norm, "Linf"), package=(package, "pyautoattack"))
    wrapped = _FloatLogits(model, _layout(x))
    attack = _autoattack_class()(wrapped, eps=eps, norm="Linf", version="standard", seed=seed, device=x.device)
    counts: list[int] = []
    with _stage_counts(len(x), counts), frozen(model):  # FAB's .backward() would also fill (and cost) weight grads
        x_adv = _run(attack, wrapped, x, y)
    if meter is not None:
        if not counts:  # the examples are what took hours: keep them, lose only the stage counts
            warnings.warn("pyautoattack logged no robust accuracy (its log format changed?): this batch's stage "
                          "counts are not recorded; update _STAGE_LINE in cafd_zoo/attacks/autoattack.py")
            meter.add(None)
            return x_adv
        counts += [counts[-1]] * (len(STAGES) - len(counts))  # stages skipped once nothing was left to break
        meter.add(torch.tensor([len(x), *counts[:len(STAGES)]]))
    return x_adv


SQUARE_PACKAGE = "pyautoattack (gradient-free: a check for gradient masking)"


def square(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float = 8 / 255, queries: int = 5000,
           p_init: float = 0.8, seed: int = 0, norm: str = "Linf", package: str = SQUARE_PACKAGE,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Square alone (AutoAttack's ``custom`` version): no gradients, so masked gradients cannot hide from it."""
    only("square", norm=(norm, "Linf"), package=(package, SQUARE_PACKAGE))
    wrapped = _FloatLogits(model, _layout(x))
    attack = _autoattack_class()(wrapped, eps=eps, norm="Linf", version="custom", attacks=["square"], seed=seed,
                                 device=x.device)
    attack.square.n_queries, attack.square.p_init = queries, p_init
    with frozen(model):
        return _run(attack, wrapped, x, y)


register_attack("autoattack", autoattack_standard,
                {"version": "standard", "norm": "Linf", "eps": 8 / 255, "seed": 0, "package": "pyautoattack"},
                eps="eps", meter=AutoAttackMeter, summary="AutoAttack, standard L-inf version (needs pyautoattack)",
                library="pyautoattack")
register_attack("square", square,
                {"norm": "Linf", "eps": 8 / 255, "queries": 5000, "p_init": 0.8, "seed": 0, "package": SQUARE_PACKAGE},
                eps="eps", summary="Square, 5,000 queries (gradient-free; needs pyautoattack)", library="pyautoattack")
