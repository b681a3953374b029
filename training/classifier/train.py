"""Train a target classifier (VGG-19, ResNet-50, WRN-28-k, ResNet-20) on CIFAR-10 or SVHN; with an
``adversarial:`` block in the config, each batch is first replaced by its PGD (AT) or ROA (DOA) copy.

Resumable to the step: the sample order, the augmentation and the learning rate are pure
functions of (seed, epoch, step), and a checkpoint (atomic, every ``checkpoint_every`` steps, at
every epoch end and on SIGINT/SIGTERM) holds the model, the optimizer, the counters and the RNG
states. ``--resume`` continues a killed run with no sample lost or repeated.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.nn.parallel import DistributedDataParallel

from cafd_zoo.code_version import code_commit
from cafd_zoo.data import ImageSet, load_dataset, random_crop_flip
from cafd_zoo.metrics_log import MetricsLog, read_metrics
from cafd_zoo.models import create_model
from cafd_zoo.precision import autocast, resolve_precision

from ..engine.atomic_files import staged, write_text_atomic
from ..engine.checkpoint import save_checkpoint, training_state
from ..engine.distributed import World, joined_world
from ..engine.epoch_loop import run_epochs, start_or_resume
from ..engine.fingerprints import gather_fingerprints
from ..engine.resumable_order import ResumableSampler
from .adversarial_training import PGDTraining, adversarial_batch, attack_generator
from .robust_probe import collapsed, epoch_weights_path, pgd_probe_accuracy, save_epoch_weights
from .config import ClassifierConfig, config_dict

CHECKPOINT = "checkpoint.pt"


def build_classifier(config: ClassifierConfig) -> torch.nn.Module:
    kwargs = dict(config.architecture_args, num_classes=config.num_classes)
    if config.mean is not None:
        kwargs |= {"mean": config.mean, "std": config.std}
    return create_model(config.architecture, **kwargs)


@torch.no_grad()
def accuracy(model: torch.nn.Module, data: ImageSet, batch_size: int, precision: str, channels_last: bool) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on all of ``data``."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(data), batch_size):
        x, y = data.batch(slice(start, start + batch_size))
        x = x.to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(precision, device):
            correct += int((model(x).argmax(1).cpu() == y).sum())
    return correct / len(data)


def _augment(x: torch.Tensor, config: ClassifierConfig, step: int, rank: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step * 101 + rank)  # a function of the step
    return random_crop_flip(x, padding=config.crop_padding, flip=config.flip, generator=generator)


def train_classifier(
    config: ClassifierConfig,
    out_dir: str | Path,
    data_root: str | Path,
    *,
    resume: bool = False,
    device: str | None = None,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """Run (or continue) the training described by ``config``; writes into ``out_dir``:
    ``checkpoint.pt``, ``metrics.jsonl``, and at the end ``model.safetensors`` and ``result.json``.

    ``stop_after_steps`` stops as a kill would, right after that step's checkpoint (for tests).
    Returns the result (final test accuracy, steps, wall time).
    """
    with joined_world(device) as world:
        return _train_classifier(world, config, Path(out_dir), data_root, resume, stop_after_steps)


def _train_classifier(world: World, config: ClassifierConfig, out: Path, data_root: str | Path, resume: bool,
                      stop_after_steps: int | None) -> dict[str, Any]:
    commit = code_commit()  # the code that starts the run, not whatever is checked out when it ends
    precision = resolve_precision(config.precision, world.device)  # type: ignore[arg-type]
    train = load_dataset(config.dataset, data_root, "train", check_md5=config.check_md5)
    test = load_dataset(config.dataset, data_root, "test", check_md5=config.check_md5)
    if config.train_subset:
        train = train.subset(config.train_subset)
    if config.test_subset:
        test = test.subset(config.test_subset)

    torch.manual_seed(config.seed)  # the same initial weights on every rank
    model = build_classifier(config).to(world.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, nesterov=config.nesterov)
    sampler = ResumableSampler(len(train), config.seed, world_size=world.size, rank=world.rank)
    steps_per_epoch = math.ceil(sampler.samples_per_epoch / config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    checkpoint_path = out / CHECKPOINT
    counters, wall_before = start_or_resume(checkpoint_path, resume, {"config": config_dict(config)},
                                            {"model": model, "optimizer": optimizer})
    net = DistributedDataParallel(model) if world.size > 1 else model
    # a fresh start (step 0) drops the steps of an earlier attempt that died before its first checkpoint
    log = MetricsLog(out / "metrics.jsonl", resume_step=counters.step) if world.is_main else None
    started = time.perf_counter()

    def checkpoint() -> None:
        if world.is_main:
            extras = {"config": config_dict(config), "wall_seconds": wall_before + time.perf_counter() - started}
            save_checkpoint(checkpoint_path, training_state({"model": model, "optimizer": optimizer},
                                                            epoch=counters.epoch, step=counters.step,
                                                            samples_in_epoch=counters.done_in_epoch, extras=extras))
        world.barrier()

    def train_batch(indices: list[int], step: int) -> Callable[[], dict[str, float]]:
        lr = config.lr * config.schedule.factor(step, steps_per_epoch, total_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = train.batch(torch.tensor(indices))
        x = _augment(x, config, step, world.rank).to(world.device)
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = y.to(world.device)
        if config.adversarial is not None:  # AT / DOA: the batch becomes its copy attacked against these weights
            x = adversarial_batch(config.adversarial, model, x, y, precision=precision,
                                  generator=attack_generator(config.seed, step, world.rank, world.device))
        with autocast(precision, world.device):
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return lambda: {"loss": loss.item(), "lr": lr}

    probing = isinstance(config.adversarial, PGDTraining) and config.robust_probe_images > 0
    probes = [r["train_pgd10_accuracy"] for r in read_metrics(out / "metrics.jsonl")
              if "train_pgd10_accuracy" in r] if probing and log is not None and counters.step else []

    def end_epoch() -> None:
        if log is None:
            return
        test_acc = accuracy(model, test, config.eval_batch_size, precision, config.channels_last)
        if not probing:
            log.log(step=counters.step, epoch=counters.epoch, test_accuracy=test_acc)
            return
        assert isinstance(config.adversarial, PGDTraining)
        probe = pgd_probe_accuracy(model, train, config.adversarial, images=config.robust_probe_images,
                                   batch_size=config.eval_batch_size, precision=precision,
                                   channels_last=config.channels_last)
        fell = collapsed(probes[-1] if probes else None, probe)
        probes.append(probe)
        save_epoch_weights(model, out, counters.epoch, config.architecture)
        log.log(step=counters.step, epoch=counters.epoch, test_accuracy=test_acc, train_pgd10_accuracy=probe,
                **({"catastrophic_overfitting": True} if fell else {}))
        if fell:
            print(f"warning: PGD-10 accuracy on the probe's training images fell from {probes[-2]:.3f} to {probe:.3f} "
                  f"in epoch {counters.epoch}: catastrophic overfitting (Wong et al. 2020). The weights before it are "
                  f"{epoch_weights_path(out, counters.epoch - 1)}", flush=True)

    finished = run_epochs(world, sampler, counters, epochs=config.epochs, batch_size=config.batch_size,
                          train_batch=train_batch, checkpoint=checkpoint, log=log, log_every=config.log_every,
                          checkpoint_every=config.checkpoint_every, begin_epoch=net.train, end_epoch=end_epoch,
                          stop_after_steps=stop_after_steps)
    if not finished:
        return {"stopped_at_step": counters.step}
    step = counters.step

    result: dict[str, Any] = {"steps": step, "epochs": config.epochs, "world_size": world.size}
    if world.size > 1:  # evidence that the replicas stayed in sync: one weight fingerprint per rank
        world.adopt_main_buffers(model)
        result["rank_fingerprints"] = gather_fingerprints(model)
    if world.is_main:
        model.eval()
        result |= {
            "test_accuracy": accuracy(model, test, config.eval_batch_size, precision, config.channels_last),
            "test_examples": len(test), "precision": precision, "code_commit": commit,
            "wall_seconds": round(wall_before + time.perf_counter() - started, 1),
            "config": config_dict(config),
        }
        if probes:  # the epoch a collapse-averse user would export: the best PGD accuracy on training images
            result["train_pgd10_accuracy"] = probes
            result["best_probe_epoch"] = 1 + max(range(len(probes)), key=probes.__getitem__)
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        with staged(out / "model.safetensors") as partial:
            save_file(weights, str(partial), metadata={"architecture": config.architecture})
        write_text_atomic(out / "result.json", json.dumps(result, indent=2) + "\n")  # last: the run is finished
        if log is not None:
            log.log(step=step, final_test_accuracy=result["test_accuracy"])
            log.close()
    return result
