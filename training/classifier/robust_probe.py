"""The catastrophic-overfitting watch of adversarial training: PGD-10 accuracy on a fixed slice of the
*training* set at every epoch's end, and that epoch's weights kept beside it.

Why: fast adversarial training (FGSM from a random start, Wong, Rice and Kolter, ICLR 2020) can collapse
within one epoch ("catastrophic overfitting"): robustness to PGD falls to about zero while the FGSM training
loss still looks fine. Wong et al. watch PGD accuracy on training images and keep the weights from before
the collapse. The slice is the first ``images`` training images without augmentation, never the test set, so
choosing an epoch by it leaves the test set unseen. The attack is the evaluation's L-inf PGD with cross-entropy
at the training eps, 10 steps of eps/4 and a random start drawn from a fixed seed (the same examples every time
the same weights are probed, so a resumed run logs the same numbers).
"""
from __future__ import annotations

from pathlib import Path

import torch

from cafd_zoo.attacks import pgd
from cafd_zoo.data import ImageSet
from cafd_zoo.precision import autocast

from ..engine.safetensors_io import save_canonical
from .adversarial_training import PGDTraining

STEPS = 10
FELL = 0.2  # Wong et al.'s rule: PGD accuracy falling by more than 20 points in one epoch is the collapse


def pgd_probe_accuracy(model: torch.nn.Module, data: ImageSet, spec: PGDTraining, *, images: int,
                       batch_size: int, precision: str, channels_last: bool) -> float:
    """Accuracy of ``model`` (put in eval mode) under PGD-10 at ``spec.eps`` on ``data``'s first ``images``."""
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(2**41)
    correct = 0
    count = min(images, len(data))
    for start in range(0, count, batch_size):
        x, y = data.batch(slice(start, min(start + batch_size, count)))
        x, y = x.to(device), y.to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(precision, device):  # type: ignore[arg-type]
            x_adv = pgd(model, x, y, eps=spec.eps, steps=STEPS, step_size=spec.eps / 4, generator=generator)
            with torch.no_grad():
                correct += int((model(x_adv).argmax(1) == y).sum())
    return correct / count


def collapsed(previous: float | None, current: float) -> bool:
    """Whether the probe fell as it does in catastrophic overfitting (by more than ``FELL`` in one epoch)."""
    return previous is not None and previous - current > FELL


def epoch_weights_path(out: Path, epoch: int) -> Path:
    """Where a run keeps the weights of the end of epoch ``epoch`` (1-based); zero-padded, so they sort by epoch."""
    return out / "epochs" / f"epoch_{epoch:03d}.safetensors"


def save_epoch_weights(model: torch.nn.Module, out: Path, epoch: int, architecture: str) -> Path:
    """``out/epochs/epoch_NNN.safetensors``: the weights at the end of epoch ``epoch`` (1-based), written
    atomically (save_canonical), so the last epoch before a collapse can be exported instead of the final one."""
    path = epoch_weights_path(out, epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_canonical({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, path,
                   {"architecture": architecture, "epoch": epoch})
    return path
