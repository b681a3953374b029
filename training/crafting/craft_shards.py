"""craft-cafa / craft-adversarial: the offline CAFA copy of a training set, as the official code builds its
training data, or (``attack=``) its CW-L2 or PGD copy, the baselines' training data
(training/crafting/shard_attacks.py).

Shards of ``shard_size`` images are crafted in order and written atomically; a killed run resumes
at the first missing shard, and since every batch's random start is seeded by (seed, shard,
batch), a re-crafted shard is byte-identical. With torchrun, rank r crafts shards r, r + N, ...
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from cafd_zoo.data import load_dataset
from cafd_zoo.integrity import sha256_of
from cafd_zoo.metrics_log import MetricsLog
from cafd_zoo.precision import autocast, resolve_precision
from cafd_zoo.progress import progress

from ..classifier.config import ClassifierConfig, config_dict
from ..classifier.trained import load_trained_classifier
from ..engine.distributed import World, joined_world
from ..engine.stop_signal import StopOnSignal
from .shard_attacks import TrainingAttack, training_attack
from .shard_files import shard_path, to_uint8, write_provenance, write_shard


def craft_shards(
    classifier_weights: str | Path,
    classifier_config: ClassifierConfig,
    data_root: str | Path,
    out_dir: str | Path,
    *,
    preset: str = "official",
    steps: int | None = None,
    shard_size: int = 1000,
    batch_size: int = 250,
    limit: int | None = None,
    seed: int = 0,
    precision: str = "auto",
    device: str | None = None,
    check_md5: bool | None = None,
    attack: TrainingAttack | None = None,
) -> dict[str, Any]:
    """Craft CAFA examples for the training split (the first ``limit`` images, or all) into ``out_dir``.
    ``check_md5`` defaults to the classifier config's setting. ``attack`` (from :func:`training_attack`)
    crafts CW-L2 or PGD examples instead; then ``preset`` and ``steps`` must stay unset."""
    check_md5 = classifier_config.check_md5 if check_md5 is None else check_md5
    if attack is not None and (preset != "official" or steps is not None):
        raise ValueError("give the attack's settings in attack=training_attack(...), not also preset / steps")
    attack = attack or training_attack("cafa", preset=preset, steps=steps)
    with joined_world(device) as world:
        return _craft(world, classifier_weights, classifier_config, data_root, Path(out_dir), attack,
                      shard_size, batch_size, limit, seed, precision, check_md5)


def _craft(world: World, classifier_weights: str | Path, classifier_config: ClassifierConfig, data_root: str | Path,
           out: Path, attack: TrainingAttack, shard_size: int, batch_size: int, limit: int | None, seed: int,
           precision: str, check_md5: bool) -> dict[str, Any]:
    prec = resolve_precision(precision, world.device)  # type: ignore[arg-type]
    train = load_dataset(classifier_config.dataset, data_root, "train", check_md5=check_md5)
    if limit:
        train = train.subset(limit)
    num_shards = math.ceil(len(train) / shard_size)
    provenance = {
        "format": 1, "dataset": classifier_config.dataset, "split": "train", "n_total": len(train),
        "shard_size": shard_size, "num_shards": num_shards, "classifier_sha256": sha256_of(classifier_weights),
        "classifier_config": config_dict(classifier_config), **attack.provenance(), "seed": seed,
        "storage": "uint8 (x_adv rounded to 8 bits)",
    }
    if world.is_main:
        write_provenance(out, provenance)
    world.barrier()
    model = load_trained_classifier(classifier_weights, classifier_config, world.device).to(
        memory_format=torch.channels_last)
    mine = [i for i in range(num_shards) if i % world.size == world.rank and not shard_path(out, i).exists()]
    log = MetricsLog(out / f"craft_rank{world.rank}.jsonl")
    bar = progress(sum(min(shard_size, len(train) - i * shard_size) for i in mine), f"craft {attack.label}")
    crafted = 0
    with StopOnSignal() as stop:
        for shard in mine:
            start = time.perf_counter()
            indices = torch.arange(shard * shard_size, min((shard + 1) * shard_size, len(train)))
            adversarial, flipped, flipped_stored = [], 0, 0
            for j, batch in enumerate(indices.split(batch_size)):
                if stop.requested:
                    bar.close()
                    return {"stopped": True, "crafted_shards": crafted}
                x, labels = train.batch(batch)
                x, labels = x.to(world.device).contiguous(memory_format=torch.channels_last), labels.to(world.device)
                generator = torch.Generator(device=world.device).manual_seed(seed * 1_000_003 + shard * 1009 + j)
                with autocast(prec, world.device):
                    x_adv = attack(model, x, labels, generator)
                    stored = to_uint8(x_adv)
                    with torch.no_grad():  # before and after rounding to 8 bits (minimum-norm attacks may lose some)
                        natural = model(x).argmax(1)
                        flipped += int((natural != model(x_adv).argmax(1)).sum())
                        flipped_stored += int((natural != model(stored.float().div_(255)).argmax(1)).sum())
                adversarial.append(stored.cpu())
                bar.update(len(batch))
            write_shard(out, shard, torch.cat(adversarial), indices)
            crafted += 1
            log.log(shard=shard, images=len(indices), prediction_changed=flipped / len(indices),
                    prediction_changed_stored=flipped_stored / len(indices),
                    images_per_s=round(len(indices) / (time.perf_counter() - start), 1))
    bar.close()
    log.close()
    return {"stopped": False, "crafted_shards": crafted, "num_shards": num_shards}
