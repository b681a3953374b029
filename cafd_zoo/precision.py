"""Pick the fast numeric path for a device: bf16 autocast + channels_last where bf16 is native.

bf16 is fast on GPUs that support it and on CPUs with AMX or AVX512-BF16. On other CPUs (for
example an AVX2-only AMD EPYC, measured in benchmarks/README.md) oneDNN emulates bf16 and a
VGG-19 runs about 5x *slower* than in fp32, so ``"auto"`` falls back to fp32 + channels_last there.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Literal

import torch
from torch import nn

Precision = Literal["auto", "bf16", "fp32"]


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """True where bf16 matmuls/convs run in hardware on ``device``."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool({"amx_bf16", "avx512_bf16"} & _cpu_flags())
    return False


def resolve_precision(precision: Precision, device: torch.device | str = "cpu") -> Literal["bf16", "fp32"]:
    """``"auto"`` becomes ``"bf16"`` where :func:`native_bf16`, else ``"fp32"``; others pass through."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def autocast(precision: Precision, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """A ``torch.autocast`` context for bf16, a no-op context for fp32."""
    device = torch.device(device)
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def attack_layout(precision: Precision, device: torch.device | str = "cpu") -> torch.memory_format:
    """The memory layout attacks run fastest in: channels_last under bf16 (on a 2-core AMX Xeon, a VGG-19 PGD step
    1.12x faster than NCHW in ``benchmarks/bench_core.py``, and the evaluation's PGD-20 cells 1.27x), NCHW in fp32
    (where channels_last measured no faster). Only the layout changes, never the values."""
    return torch.channels_last if resolve_precision(precision, device) == "bf16" else torch.contiguous_format


def to_attack_layout(model: nn.Module, precision: Precision, device: torch.device | str = "cpu") -> torch.memory_format:
    """Put ``model``'s 4-D weights in :func:`attack_layout` (in place) and return that layout for the inputs."""
    layout = attack_layout(precision, device)
    model.to(memory_format=layout)
    return layout
