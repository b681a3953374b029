"""Train the CAFD denoiser C against a frozen classifier P (paper Algorithm 2, official recipe).

Each iteration: x^ = purify(C, x~); a step of the discriminator D on (x, x^ detached) with the RaGAN
loss; then a step of C on ``lambda_caf * L_caf + lambda_class_weights * W term + lambda_adv * L_adv``
(``+ lambda_ce * CE(P(x^), y)``, beyond the paper, when ``lambda_ce`` > 0).
P's parameters never change: it is loaded, put in eval mode and frozen once, and only read.

``adversarial_source: adaptive`` (beyond the paper, for a robust P; training/denoiser/adaptive_attack.py):
x~ is PGD crafted for every batch through the whole defended model P(purify(C, .)) with C frozen as it
stands, optionally with a share of each batch left clean; no CAFA shards are read.

Resumable to the step, as train_classifier.py: the sample order, the online CAFA and adaptive PGD random starts
and the learning rate are pure functions of (seed, epoch, step), and the checkpoint holds C, D,
both optimisers, the counters and the RNG states. Writes ``checkpoint.pt``, ``metrics.jsonl``, and
at the end ``denoiser.safetensors`` (C only) and ``result.json``.

Deviations from the official loop, each numerically neutral for C's update: C runs once per
iteration (the official code runs it again for the C step; D's step does not change C, so x^ is
the same, but C's BN running statistics are updated once, not twice); D's parameters take no
gradient in C's step (the official code computes and later discards them).

A BaselineDenoiserConfig (``method: hgd`` or ``ape_g``) trains a baseline with the same loop, data,
checkpoints and probe; only the networks and the step differ (training/denoiser/baseline_steps.py).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cafd_zoo.cafa import CAFAConfig, cafa, resolve_config
from cafd_zoo.cam import ClassActivationFeatures
from cafd_zoo.code_version import code_commit
from cafd_zoo.frozen import no_parameter_grads
from cafd_zoo.integrity import sha256_of
from cafd_zoo.metrics_log import MetricsLog
from cafd_zoo.models import create_model, purify
from cafd_zoo.precision import autocast, resolve_precision

from ..classifier.config import ClassifierConfig, config_dict
from ..classifier.train import build_classifier
from ..engine.atomic_files import write_text_atomic
from ..engine.checkpoint import save_checkpoint, training_state
from ..engine.distributed import World, joined_world
from ..engine.epoch_loop import run_epochs, start_or_resume
from ..engine.fingerprints import gather_fingerprints
from ..engine.resumable_order import ResumableSampler
from ..engine.safetensors_io import save_canonical
from .adaptive_attack import adaptive_batch, defended_model
from .baseline_steps import baseline_train_step
from .config import DenoiserConfig
from .initial_weights import load_initial_denoiser
from .losses import ClassActivationFeatureLoss, ragan_discriminator_loss, ragan_generator_loss
from .purification_probe import probe_accuracies, probe_sets
from .training_pairs import TrainingPairs, load_pairs

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "denoiser.safetensors"


def load_frozen_classifier(weights: str | Path, config: ClassifierConfig, device: torch.device) -> nn.Module:
    """P from a train-classifier run (``model.safetensors``, strictly loaded), in eval mode with every
    parameter's ``requires_grad`` off: no optimiser holds it, and no backward pass writes a ``.grad``."""
    model = build_classifier(config)
    model.load_state_dict(load_file(str(weights)), strict=True)
    return model.to(device).eval().requires_grad_(False)


def denoiser_architecture(config: DenoiserConfig) -> str:
    """The registered architecture of the config's denoiser: DUNET (CAFD, HGD) or APE-G's generator."""
    return "ape_gan_generator" if config.method == "ape_g" else "dunet"


def denoiser_args(config: DenoiserConfig) -> dict[str, Any]:
    """The denoiser builder's arguments for this config (also stored in the weights' metadata)."""
    if config.method == "ape_g":
        return {"width": config.denoiser_width}
    return {"width": config.denoiser_width, "decoder": config.denoiser_decoder,
            "bn_momentum": config.denoiser_bn_momentum}


def build_discriminator(config: DenoiserConfig) -> nn.Module:
    """D of the config: the official VGG-style discriminator at ``discriminator_width`` (APE-G: its own D)."""
    if config.method == "ape_g":
        return create_model("ape_gan_discriminator", width=config.discriminator_width)
    return create_model("vgg_discriminator", num_feat=config.discriminator_width)


def _adam(module: nn.Module, config: DenoiserConfig) -> torch.optim.Adam:
    return torch.optim.Adam(module.parameters(), lr=config.lr, betas=config.adam_betas,
                            weight_decay=config.weight_decay)


def _craft_online(extractor: ClassActivationFeatures, x: torch.Tensor, attack: CAFAConfig, seed: int,
                  step: int, rank: int) -> torch.Tensor:
    """Algorithm 2's x~ for this batch: CAFA against the frozen classifier, its random start seeded by the step."""
    seed = seed * 1_000_003 + step * 101 + rank  # the random start is a function of the step
    generator = torch.Generator(device=x.device).manual_seed(seed)
    return cafa(extractor, x, **dataclasses.asdict(attack), generator=generator)


def train_denoiser(
    config: DenoiserConfig,
    out_dir: str | Path,
    data_root: str | Path,
    classifier_weights: str | Path,
    classifier_config: ClassifierConfig,
    *,
    cafa_dir: str | Path | None = None,
    resume: bool = False,
    device: str | None = None,
    stop_after_steps: int | None = None,
    init_denoiser: str | None = None,
) -> dict[str, Any]:
    """Run (or continue) the denoiser training ``config`` describes against the classifier in
    ``classifier_weights`` (trained as ``classifier_config`` says); writes into ``out_dir``.

    ``init_denoiser`` fine-tunes instead of starting from random weights: a released denoiser (zoo
    name) or an earlier run's ``denoiser.safetensors``; its architecture must match the config's.
    ``cafa_dir``: the offline CAFA shards (``adversarial_source: offline``). ``stop_after_steps``
    stops as a kill would, right after that step's checkpoint (for tests). Returns the result.
    """
    if classifier_config.dataset != config.dataset:
        raise ValueError(f"the classifier was trained on {classifier_config.dataset!r}, "
                         f"the denoiser config says {config.dataset!r}")
    with joined_world(device) as world:
        return _train_denoiser(world, config, Path(out_dir), data_root, classifier_weights, classifier_config,
                               cafa_dir, resume, stop_after_steps, init_denoiser)


def _train_denoiser(world: World, config: DenoiserConfig, out: Path, data_root: str | Path,
                    classifier_weights: str | Path, classifier_config: ClassifierConfig, cafa_dir: str | Path | None,
                    resume: bool, stop_after_steps: int | None, init_denoiser: str | None) -> dict[str, Any]:
    commit = code_commit()  # the code that starts the run, not whatever is checked out when it ends
    precision = resolve_precision(config.precision, world.device)  # type: ignore[arg-type]
    classifier_sha256 = sha256_of(classifier_weights)
    pairs = load_pairs(config, data_root, cafa_dir, classifier_sha256)
    held_out: TrainingPairs | None = None
    if config.probe_split == "train_holdout" and config.eval_examples:
        pairs, held_out = pairs.split_off(config.eval_examples)
    classifier = load_frozen_classifier(classifier_weights, classifier_config, world.device)

    torch.manual_seed(config.seed)  # the same initial weights on every rank
    denoiser = create_model(denoiser_architecture(config), **denoiser_args(config))
    init_provenance = None
    if init_denoiser is not None:
        start = load_initial_denoiser(init_denoiser)
        init_provenance = start.provenance
        if (start.architecture, start.arguments) != (denoiser_architecture(config), denoiser_args(config)):
            raise ValueError(f"{init_denoiser} is a {start.architecture}{start.arguments}, the config builds "
                             f"{denoiser_architecture(config)}{denoiser_args(config)}: "
                             "set denoiser_width / denoiser_decoder / denoiser_bn_momentum (and method) to match")
        denoiser.load_state_dict(start.state, strict=True)
    denoiser = denoiser.to(world.device)
    discriminator = build_discriminator(config).to(world.device)
    if config.channels_last:
        for model in (classifier, denoiser, discriminator):
            model.to(memory_format=torch.channels_last)
    optimizer_c, optimizer_d = _adam(denoiser, config), _adam(discriminator, config)
    components = {"denoiser": denoiser, "discriminator": discriminator,
                  "denoiser_optimizer": optimizer_c, "discriminator_optimizer": optimizer_d}
    caf_loss = ClassActivationFeatureLoss(classifier, config.caf_loss,  # type: ignore[arg-type]
                                          normalization=config.caf_normalization)
    attack = resolve_config(config.cafa_preset, steps=config.cafa_steps)
    defended = defended_model(denoiser, classifier, config.clamp)  # what the adaptive source attacks
    sampler = ResumableSampler(len(pairs), config.seed, world_size=world.size, rank=world.rank)
    steps_per_epoch = math.ceil(sampler.samples_per_epoch / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    run_identity = {"config": config_dict(config), "classifier_sha256": classifier_sha256, "pairs": len(pairs),
                    "initial_denoiser": init_provenance}

    checkpoint_path = out / CHECKPOINT
    counters, wall_before = start_or_resume(checkpoint_path, resume, run_identity, components)
    net_c = DistributedDataParallel(denoiser) if world.size > 1 else denoiser
    net_d = DistributedDataParallel(discriminator) if world.size > 1 else discriminator
    # a fresh start (step 0) drops the steps of an earlier attempt that died before its first checkpoint
    log = MetricsLog(out / "metrics.jsonl", resume_step=counters.step) if world.is_main else None
    probe = probe_sets(config, data_root, classifier, held_out, precision) if world.is_main else {}
    started = time.perf_counter()

    def probe_accuracy() -> dict[str, float] | None:
        if not probe:
            return None
        return probe_accuracies(denoiser, classifier, probe, batch_size=config.eval_batch_size,
                                clamp=config.clamp, precision=precision, channels_last=config.channels_last,
                                whitebox_pgd_steps=config.probe_whitebox_pgd_steps, seed=config.seed)

    def checkpoint() -> None:
        if world.is_main:
            extras = run_identity | {"wall_seconds": wall_before + time.perf_counter() - started}
            save_checkpoint(checkpoint_path, training_state(components, epoch=counters.epoch, step=counters.step,
                                                            samples_in_epoch=counters.done_in_epoch, extras=extras))
        world.barrier()

    def to_device(x: torch.Tensor) -> torch.Tensor:
        x = x.to(world.device)
        return x.contiguous(memory_format=torch.channels_last) if config.channels_last else x

    def begin_epoch() -> None:
        if counters.done_in_epoch == 0 and config.reset_optimizers_each_epoch:
            for optimizer in (optimizer_c, optimizer_d):
                optimizer.state.clear()  # what re-creating Adam does: the moments and step counts restart
        denoiser.train()
        discriminator.train()

    def train_batch(indices: list[int], step: int) -> Callable[[], dict[str, float]]:
        lr = config.lr * config.schedule.factor(step, steps_per_epoch, total_steps)
        for optimizer in (optimizer_c, optimizer_d):
            for group in optimizer.param_groups:
                group["lr"] = lr
        x_nat, labels, x_adv = pairs.batch(torch.tensor(indices))
        x_nat, y = to_device(x_nat), labels.to(world.device)
        if config.adversarial_source == "adaptive":
            x_adv = adaptive_batch(config, defended, x_nat, y, step=step, rank=world.rank, precision=precision)
        elif x_adv is None:
            with autocast(precision, world.device):
                x_adv = _craft_online(caf_loss.extractor, x_nat, attack, config.seed, step, world.rank)
            x_adv = x_adv.float()
        if config.method == "cafd":
            losses = train_step(config, precision, world, net_c, net_d, discriminator, optimizer_c, optimizer_d,
                                caf_loss, x_nat, to_device(x_adv), labels=y)
        else:
            losses = baseline_train_step(config, precision, world.device, net_c, net_d,  # type: ignore[arg-type]
                                         discriminator, optimizer_c, optimizer_d, classifier, x_nat, to_device(x_adv))
        return lambda: _loggable(losses, labels) | {"lr": lr}

    def end_epoch() -> None:
        accuracy = probe_accuracy()
        if log is not None and accuracy is not None:
            log.log(step=counters.step, epoch=counters.epoch, **{f"probe_{k}": v for k, v in accuracy.items()})

    finished = run_epochs(world, sampler, counters, epochs=config.epochs, batch_size=config.batch_size,
                          train_batch=train_batch, checkpoint=checkpoint, log=log, log_every=config.log_every,
                          checkpoint_every=config.checkpoint_every, begin_epoch=begin_epoch, end_epoch=end_epoch,
                          stop_after_steps=stop_after_steps)
    if not finished:
        return {"stopped_at_step": counters.step}
    step = counters.step

    result: dict[str, Any] = {"steps": step, "epochs": config.epochs, "world_size": world.size}
    if world.size > 1:  # evidence that the replicas stayed in sync: one weight fingerprint per rank
        world.adopt_main_buffers(denoiser)
        result["rank_fingerprints"] = gather_fingerprints(denoiser)
    if world.is_main:
        result |= {
            "probe_accuracy": probe_accuracy(), "probe_split": config.probe_split,
            "probe_examples": len(next(iter(probe.values()))[2]) if probe else 0,
            "probe_pgd_steps": config.probe_pgd_steps,
            "probe_cafa_steps": resolve_config(config.cafa_preset, steps=config.eval_cafa_steps).steps,
            "classifier_sha256": classifier_sha256, "training_pairs": len(pairs), "initial_denoiser": init_provenance,
            "precision": precision, "wall_seconds": round(wall_before + time.perf_counter() - started, 1),
            "code_commit": commit, "config": config_dict(config),
        }
        if config.adversarial_source == "adaptive":  # in full: config_dict leaves out the settings at their defaults
            result["adaptive_attack"] = dataclasses.asdict(config.adaptive_attack) | {
                "clean_fraction": config.adaptive_clean_fraction, "lambda_ce": config.lambda_ce}
        weights = {k: v.detach().cpu().contiguous() for k, v in denoiser.state_dict().items()}
        save_canonical(weights, out / WEIGHTS, {"architecture": denoiser_architecture(config),
                                                "architecture_args": denoiser_args(config),
                                                "classifier_sha256": classifier_sha256, "clamp": config.clamp})
        write_text_atomic(out / "result.json", json.dumps(result, indent=2) + "\n")  # last: the run is finished
        if log is not None:
            log.log(step=step, final_probe_accuracy=result["probe_accuracy"])
            log.close()
    return result


def train_step(
    config: DenoiserConfig,
    precision: str,
    world: World,
    net_c: nn.Module,
    net_d: nn.Module,
    discriminator: nn.Module,
    optimizer_c: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    caf_loss: ClassActivationFeatureLoss,
    x_nat: torch.Tensor,
    x_adv: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """One iteration of Algorithm 2: D's step, then C's; returns the losses as tensors (no sync).
    ``labels`` (on the device) feed the cross-entropy term; needed only when ``lambda_ce`` > 0."""
    with autocast(precision, world.device):  # type: ignore[arg-type]
        x_hat = purify(net_c, x_adv, config.clamp)
    zero = x_hat.new_zeros((), dtype=torch.float32)
    loss_d, loss_adv = zero, zero
    if config.trains_discriminator:
        with autocast(precision, world.device):  # type: ignore[arg-type]
            d_real, d_fake = net_d(x_nat), net_d(x_hat.detach())
        loss_d = ragan_discriminator_loss(d_real, d_fake, config.gan_loss)  # type: ignore[arg-type]
        optimizer_d.zero_grad(set_to_none=True)
        loss_d.backward()
        optimizer_d.step()
        # D in C's step: still in train mode (batch statistics, as official), but its weights take no gradient
        with no_parameter_grads(discriminator), autocast(precision, world.device):  # type: ignore[arg-type]
            d_real, d_fake = discriminator(x_nat), discriminator(x_hat)  # D just updated: recomputed, as official
        loss_adv = ragan_generator_loss(d_real, d_fake, config.gan_loss)  # type: ignore[arg-type]
    feature, class_weights, logits = zero, zero, None
    if config.needs_caf:
        with autocast(precision, world.device):  # type: ignore[arg-type]
            terms = caf_loss(x_hat, x_nat)
        feature, class_weights, logits = terms.feature, terms.class_weights, terms.purified_logits
    loss = config.lambda_caf * feature + config.lambda_class_weights * class_weights + config.lambda_adv * loss_adv
    cross_entropy = None
    if config.lambda_ce > 0:
        if labels is None:
            raise ValueError("lambda_ce > 0: train_step needs the batch's labels (labels=...)")
        if logits is None:  # pixel_mse or no L_caf: P has not seen x^ yet
            with autocast(precision, world.device):  # type: ignore[arg-type]
                logits = caf_loss.extractor.model(x_hat)
        cross_entropy = F.cross_entropy(logits.float(), labels)
        loss = loss + config.lambda_ce * cross_entropy
    optimizer_c.zero_grad(set_to_none=True)
    loss.backward()
    optimizer_c.step()
    losses = {"loss": loss.detach(), "loss_d": loss_d.detach(), "loss_adv": loss_adv.detach(),
              "caf_feature": feature.detach(), "caf_class_weights": class_weights.detach()}
    if cross_entropy is not None:
        losses["ce"] = cross_entropy.detach()
    if logits is not None:
        losses["purified_predictions"] = logits.detach().argmax(1)
    return losses


def _loggable(losses: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, float]:
    """Plain numbers for the metrics log; P's accuracy on the purified training batch, as the official code logs."""
    values = {k: float(v) for k, v in losses.items() if k != "purified_predictions"}
    if "purified_predictions" in losses:
        values["purified_train_accuracy"] = float((losses["purified_predictions"].cpu() == labels).float().mean())
    return values
