"""The transfer threat model's source: another classifier the attacker crafts on (paper Table 1, the AT row).

An adversarially trained model has no purifier; the paper's Table 1 still gives it an "unseen attacks" row, whose
examples can only have been crafted on the standard target model it replaces, then judged on it. ``transfer`` is
that setting for any release: crafted on ``source`` (a zoo classifier release, e.g. ``vgg19_cifar10``), judged on
the evaluated model. With ``--cache``, what the oblivious rows of every defense of the same classifier crafted is
read back, so a transfer row costs its judgements. The source's identity goes into every transfer row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class TransferSource:
    """The classifier the transfer attack runs on, and what identifies it in the results."""

    model: nn.Module
    identity: dict[str, str]


def release_source(name: str, device: torch.device | str = "cpu", *,
                   dataset: str | None = None) -> TransferSource:
    """Classifier release ``name`` (downloaded or read from the release store, sha256-checked), refused when it is not
    a classifier or was trained on another data set than ``dataset``."""
    from ..hub import load, model_info

    info: dict[str, Any] = model_info(name)
    if info["kind"] != "classifier":
        raise ValueError(f"--source-classifier takes a classifier release (the standard model the attacker crafts "
                         f"on, e.g. vgg19_cifar10); {name} is a {info['kind']} release")
    if dataset is not None and info["dataset"] != dataset:
        raise ValueError(f"--source-classifier {name} was trained on {info['dataset']}, the evaluated model on "
                         f"{dataset}: a transfer attack needs the same labels")
    model = load(name, device=device).eval()
    return TransferSource(model, {"source": name, "sha256": info["files"]["classifier"]["sha256"]})
