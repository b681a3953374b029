"""A cheap probe of a denoiser during training: P's accuracy on natural, attacked and purified images.

This is the official code's per-epoch check (accuracy of P(x~ + C(x~)) on attacked test images),
run on a small fixed slice of the test set attacked once with CAFA against the bare classifier
(the gray-box setting of the paper's Tables 1-2). It steers training; it is not the evaluation.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import nn

from cafd_zoo.cafa import CAFAConfig, cafa
from cafd_zoo.data import ImageSet
from cafd_zoo.models.denoiser import purify
from cafd_zoo.precision import autocast


def _correct(classifier: nn.Module, x: torch.Tensor, labels: torch.Tensor, channels_last: bool) -> int:
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return int((classifier(x).argmax(1) == labels).sum())


@torch.no_grad()
def evaluate_purification(
    denoiser: nn.Module,
    classifier: nn.Module,
    x_nat: torch.Tensor,
    x_adv: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 250,
    clamp: bool = True,
    precision: str = "fp32",
    channels_last: bool = False,
) -> dict[str, float]:
    """Top-1 accuracy of ``classifier`` on ``x_nat``, on ``x_adv``, on ``purify(x_adv)`` and on
    ``purify(x_nat)`` (what the defence costs on clean images). Both models are run in eval mode and
    left in the mode they were found in; the tensors are moved to the classifier's device batch by batch."""
    if not (x_nat.shape == x_adv.shape and x_nat.shape[0] == labels.shape[0]):
        raise ValueError(f"need x_nat, x_adv and labels of one length and image shape, got {tuple(x_nat.shape)}, "
                         f"{tuple(x_adv.shape)} and {tuple(labels.shape)}")
    device = next(classifier.parameters()).device
    modes = [(m, m.training) for m in (*denoiser.modules(), *classifier.modules())]
    denoiser.eval()
    classifier.eval()
    correct = dict.fromkeys(("natural", "adversarial", "purified", "purified_natural"), 0)
    try:
        for start in range(0, len(labels), batch_size):
            part = slice(start, start + batch_size)
            nat, adv, y = x_nat[part].to(device), x_adv[part].to(device), labels[part].to(device)
            with autocast(precision, device):  # type: ignore[arg-type]
                for name, x in (("natural", nat), ("adversarial", adv)):
                    correct[name] += _correct(classifier, x, y, channels_last)
                for name, x in (("purified", adv), ("purified_natural", nat)):
                    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
                    correct[name] += _correct(classifier, purify(denoiser, x, clamp).float(), y, channels_last)
    finally:
        for module, training in modes:
            module.training = training
    return {name: count / len(labels) for name, count in correct.items()}


def attacked_probe_set(
    test: ImageSet,
    n: int,
    classifier: nn.Module,
    attack: CAFAConfig,
    *,
    seed: int = 0,
    batch_size: int = 250,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``n`` test images, their CAFA examples against ``classifier`` and their labels (on the
    classifier's device). The random starts are seeded, so a resumed run probes the same images."""
    device = next(classifier.parameters()).device
    x_nat, labels = test.subset(n).batch(slice(None))
    x_nat, labels = x_nat.to(device), labels.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    with autocast(precision, device):  # type: ignore[arg-type]
        x_adv = torch.cat([cafa(classifier, part, **dataclasses.asdict(attack), generator=generator)
                           for part in x_nat.split(batch_size)])
    return x_nat, x_adv.float(), labels
