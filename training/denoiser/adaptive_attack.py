"""The x~ of ``adversarial_source: adaptive``: PGD through the whole defended model, crafted for every batch.

An attacker who knows the defense differentiates through the denoiser C and the classifier P together
(the embedded CAFD release falls to exactly that). Training C on what such an attacker finds, rather
than on CAFA against P alone, is adversarial training of the denoiser with P frozen. The attack is AT's
(training/classifier/adversarial_training.py) run on ``DefendedClassifier(C, P)``: both networks are in
eval mode with no parameter gradients while it runs (``cafd_zoo.frozen``, restored after), so C's
BatchNorm statistics and every ``.grad`` stay as they were, and an example depends on its image, the
current weights and the step's seed alone: a resumed run crafts exactly the examples it would have.
"""
from __future__ import annotations

import torch
from torch import nn

from cafd_zoo.models import DefendedClassifier

from ..classifier.adversarial_training import adversarial_batch, attack_generator
from .config import DenoiserConfig


def defended_model(denoiser: nn.Module, classifier: nn.Module, clamp: bool) -> DefendedClassifier:
    """P(purify(C, .)) as one attackable module over the bare (not DDP-wrapped) networks; no input checks,
    as the training batches are the data loader's own."""
    return DefendedClassifier(denoiser, classifier, input_size=None, clamp=clamp, check_inputs=False)


def clean_count(config: DenoiserConfig, batch: int) -> int:
    """How many images at the head of a batch of ``batch`` stay clean: floor(adaptive_clean_fraction x batch)."""
    return int(config.adaptive_clean_fraction * batch)


def adaptive_batch(config: DenoiserConfig, defended: DefendedClassifier, x: torch.Tensor, labels: torch.Tensor,
                   *, step: int, rank: int, precision: str) -> torch.Tensor:
    """The batch C trains on at ``step``: its first :func:`clean_count` images as they are (the sampler's order
    is random, so they are a random share), the others attacked through C and P with the config's PGD.
    The random start is a function of (seed, step, rank) alone."""
    keep = clean_count(config, len(x))
    generator = attack_generator(config.seed, step, rank, x.device)
    attacked = adversarial_batch(config.adaptive_attack, defended, x[keep:], labels[keep:], generator=generator,
                                 precision=precision)
    return torch.cat([x[:keep], attacked.float()])
