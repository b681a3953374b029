"""``cafd_zoo.evaluate``: the evaluation driver on images in memory, for any release or DefendedClassifier."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterable

import torch

from ..models import DefendedClassifier
from .driver import run_evaluation
from .surrogate import Surrogate


class TensorSet:
    """Float images in [0, 1] and labels, with the two methods the driver reads data through (no 8-bit rounding)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.dim() != 4 or not images.is_floating_point() or labels.shape != images.shape[:1]:
            raise ValueError(f"expected float images (N, C, H, W) in [0, 1] and N labels, got "
                             f"{images.dtype} {tuple(images.shape)} and labels {tuple(labels.shape)}")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int) -> TensorSet:
        if not 0 < n <= len(self):
            raise ValueError(f"n must be in [1, {len(self)}], got {n}")
        return TensorSet(self.images[:n], self.labels[:n])

    def batch(self, indices: slice) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[indices], self.labels[indices]


def evaluate(
    model: DefendedClassifier | str,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    attacks: Iterable[str] = ("pgd_n",),
    threats: Iterable[str] = ("oblivious", "whitebox"),
    results: str | Path | None = None,
    release: str | None = None,
    surrogate: Surrogate | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Error rates of ``model`` (a DefendedClassifier, or a defended release by name) on ``images`` (float, [0, 1])
    under every attack x threat model: one summary row per pair, with ``error_rate`` and ``clean_error``.

    ``results`` keeps the JSON lines (resumable with ``resume=True``); without it they go to a temporary file.
    ``options`` are the driver's: ``eps``, ``steps``, ``seed``, ``batch_size``, ``shard_size``, ``precision``,
    ``resume``, ``eot`` (see :func:`cafd_zoo.evaluation.driver.run_evaluation`).
    """
    if isinstance(model, str):
        from ..hub import load

        release, model = release or model, load(model, device=images.device)
    if not isinstance(model, DefendedClassifier):
        raise TypeError(f"evaluate takes a DefendedClassifier or a defended release name, got {type(model).__name__}; "
                        "wrap a classifier as DefendedClassifier(denoiser, classifier)")
    data = TensorSet(images, labels)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(results) if results is not None else Path(scratch) / "results.jsonl"
        return run_evaluation(model, release or "model", data, path, attacks=list(attacks),  # type: ignore[arg-type]
                              threats=list(threats), n=len(data), surrogate=surrogate, **options)
