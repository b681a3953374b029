"""A cheap probe of a denoiser during training: P's accuracy on natural, attacked and purified images.

This is the official code's per-epoch check (accuracy of P(x~ + C(x~)) on attacked images), run on a
small fixed slice attacked once against the bare classifier (the oblivious setting of the paper's
Tables 1-2). The slice is the first test images (``probe_split: test``, the official habit) or, so
that the test set never steers training, the last training pairs held out of training
(``probe_split: train_holdout``), attacked with CAFA and, with ``probe_pgd_steps``, with PGD too.
With ``probe_whitebox_pgd_steps``, the same images are also attacked by PGD through the denoiser and the
classifier together (the attacker who knows the defense), crafted anew at every probe since C changes.
It steers training; it is not the evaluation.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from cafd_zoo.attacks import pgd
from cafd_zoo.cafa import CAFAConfig, cafa, resolve_config
from cafd_zoo.data import ImageSet, load_dataset
from cafd_zoo.frozen import frozen
from cafd_zoo.models import DefendedClassifier
from cafd_zoo.models.denoiser import purify
from cafd_zoo.precision import autocast

from .config import DenoiserConfig
from .training_pairs import TrainingPairs


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
    x_nat, labels = test.subset(n).batch(slice(None))
    return cafa_probe_set(x_nat, labels, classifier, attack, seed=seed, batch_size=batch_size, precision=precision)


def cafa_probe_set(x_nat: torch.Tensor, labels: torch.Tensor, classifier: nn.Module, attack: CAFAConfig, *,
                   seed: int = 0, batch_size: int = 250,
                   precision: str = "fp32") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x_nat`` attacked once with CAFA against the bare classifier, seeded (a resumed run probes the same)."""
    device = next(classifier.parameters()).device
    x_nat, labels = x_nat.to(device), labels.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    with autocast(precision, device):  # type: ignore[arg-type]
        x_adv = torch.cat([cafa(classifier, part, **dataclasses.asdict(attack), generator=generator)
                           for part in x_nat.split(batch_size)])
    return x_nat, x_adv.float(), labels


ProbeSet = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # x_nat, x_adv, labels


def pgd_probe_set(x_nat: torch.Tensor, labels: torch.Tensor, classifier: nn.Module, steps: int, *, seed: int = 0,
                  batch_size: int = 250, precision: str = "fp32") -> ProbeSet:
    """``x_nat`` attacked once with PGD (L-inf eps 8/255, step 2/255, random start) against the bare classifier."""
    device = next(classifier.parameters()).device
    x_nat, labels = x_nat.to(device), labels.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    with autocast(precision, device):  # type: ignore[arg-type]
        x_adv = torch.cat([pgd(classifier, x, y, eps=8 / 255, steps=steps, step_size=2 / 255, generator=generator)
                           for x, y in zip(x_nat.split(batch_size), labels.split(batch_size))])
    return x_nat, x_adv.float(), labels


def probe_accuracies(denoiser: nn.Module, classifier: nn.Module, sets: dict[str, ProbeSet], *,
                     whitebox_pgd_steps: int | None = None, seed: int = 0, **kwargs) -> dict[str, float]:
    """:func:`evaluate_purification` on each named set; the CAFA set's keys stay unprefixed (the log's
    historical names), the others are prefixed with their name (``pgd_purified``, ...). With
    ``whitebox_pgd_steps``, also :func:`whitebox_pgd_accuracy` on the CAFA set's natural images."""
    found: dict[str, float] = {}
    for name, probe in sets.items():
        accuracy = evaluate_purification(denoiser, classifier, *probe, **kwargs)
        found |= {(k if name == "cafa" else f"{name}_{k}"): v for k, v in accuracy.items()}
    if whitebox_pgd_steps and "cafa" in sets:
        x_nat, _, labels = sets["cafa"]
        found["whitebox_pgd_purified"] = whitebox_pgd_accuracy(denoiser, classifier, x_nat, labels, whitebox_pgd_steps,
                                                               seed=seed, **kwargs)
    return found


def whitebox_pgd_accuracy(denoiser: nn.Module, classifier: nn.Module, x_nat: torch.Tensor, labels: torch.Tensor,
                          steps: int, *, seed: int = 0, batch_size: int = 250, clamp: bool = True,
                          precision: str = "fp32", channels_last: bool = False) -> float:
    """Accuracy of P(purify(C, .)) on PGD (L-inf eps 8/255, step 2/255, seeded random start) crafted through
    C and P on ``x_nat``: what the defense keeps against an attacker who knows it. Both networks run in eval
    mode without parameter gradients and are left as found."""
    defended = DefendedClassifier(denoiser, classifier, input_size=None, clamp=clamp, check_inputs=False)
    generator = torch.Generator(device=x_nat.device).manual_seed(seed)
    correct = 0
    with frozen(defended):
        for x, y in zip(x_nat.split(batch_size), labels.split(batch_size)):
            x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
            with torch.enable_grad(), autocast(precision, x.device):  # type: ignore[arg-type]
                x_adv = pgd(defended, x, y, eps=8 / 255, steps=steps, step_size=2 / 255, generator=generator)
                with torch.no_grad():
                    correct += int((defended(x_adv).argmax(1) == y).sum())
    return correct / len(labels)


def probe_sets(config: DenoiserConfig, data_root: str | Path, classifier: nn.Module, held_out: TrainingPairs | None,
               precision: str) -> dict[str, ProbeSet]:
    """The fixed attacked slices the end-of-epoch probe judges: CAFA (and PGD) on the first test images,
    or on the training pairs held out of training (their stored CAFA copies when offline)."""
    if not config.eval_examples:
        return {}
    cafa_attack = resolve_config(config.cafa_preset, steps=config.eval_cafa_steps)
    if held_out is None:
        test = load_dataset(config.dataset, data_root, "test", check_md5=config.check_md5)
        sets = {"cafa": attacked_probe_set(test, min(config.eval_examples, len(test)), classifier, cafa_attack,
                                           seed=config.seed, batch_size=config.eval_batch_size, precision=precision)}
    else:
        x_nat, labels, x_cafa = held_out.batch(torch.arange(len(held_out)))
        if x_cafa is None:  # crafted online: attack the held-out images once, as the test slice
            sets = {"cafa": cafa_probe_set(x_nat, labels, classifier, cafa_attack, seed=config.seed,
                                           batch_size=config.eval_batch_size, precision=precision)}
        else:
            device = next(classifier.parameters()).device
            sets = {"cafa": (x_nat.to(device), x_cafa.to(device), labels.to(device))}
    if config.probe_pgd_steps:
        x_nat, _, labels = sets["cafa"]
        sets["pgd"] = pgd_probe_set(x_nat, labels, classifier, config.probe_pgd_steps, seed=config.seed,
                                    batch_size=config.eval_batch_size, precision=precision)
    return sets
