"""The training pairs (x, x~) of the denoiser: natural images with their offline CAFA copies, or the
natural images alone when x~ is crafted batch by batch by the trainer (online CAFA, adaptive PGD)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from cafd_zoo.data import ImageSet, load_dataset

from ..crafting.shard_attacks import check_shard_attack
from ..crafting.shard_files import read_cafa_set
from .config import DenoiserConfig


@dataclass(frozen=True)
class TrainingPairs:
    """Position p pairs ``natural[indices[p]]`` with ``adversarial[p]`` (uint8; None when crafted online)."""

    natural: ImageSet
    indices: torch.Tensor
    adversarial: torch.Tensor | None

    def __len__(self) -> int:
        return self.indices.shape[0]

    def batch(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(x_nat, labels, x_adv or None) for ``positions``, images as float in [0, 1]."""
        x_nat, labels = self.natural.batch(self.indices[positions])
        x_adv = None if self.adversarial is None else self.adversarial[positions].float().div_(255)
        return x_nat, labels, x_adv

    def subset(self, n: int) -> TrainingPairs:
        """The first ``n`` pairs."""
        if not 0 < n <= len(self):
            raise ValueError(f"train_subset must be in [1, {len(self)}], got {n}")
        adversarial = None if self.adversarial is None else self.adversarial[:n]
        return TrainingPairs(self.natural, self.indices[:n], adversarial)

    def split_off(self, n: int) -> tuple[TrainingPairs, TrainingPairs]:
        """(all but the last ``n`` pairs, the last ``n``): a validation slice held out of training."""
        if not 0 < n < len(self):
            raise ValueError(f"a held-out probe of {n} pairs needs 1 <= n < {len(self)} (the training pairs)")
        cut = len(self) - n
        parts = [None, None] if self.adversarial is None else [self.adversarial[:cut], self.adversarial[cut:]]
        return (TrainingPairs(self.natural, self.indices[:cut], parts[0]),
                TrainingPairs(self.natural, self.indices[cut:], parts[1]))


def online_pairs(train: ImageSet) -> TrainingPairs:
    """Every training image, its CAFA example to be crafted per batch."""
    return TrainingPairs(train, torch.arange(len(train)), None)


def offline_pairs(cafa_dir: str | Path, train: ImageSet, classifier_sha256: str | None = None) -> TrainingPairs:
    """The CAFA shard set in ``cafa_dir`` against the training split it was crafted from.

    Refuses shards of another data set or of other image shapes; warns when they were crafted
    against another classifier than the one being defended (a transfer setting, rarely intended).
    """
    indices, adversarial, provenance = read_cafa_set(cafa_dir)
    dataset = provenance.get("dataset")
    if dataset is not None and dataset != train.name:
        raise ValueError(f"{cafa_dir} holds CAFA examples of {dataset!r}, but the run trains on {train.name!r}")
    if indices.numel() == 0:
        raise ValueError(f"{cafa_dir} holds no CAFA examples")
    if indices.min() < 0 or indices.max() >= len(train):
        raise ValueError(f"{cafa_dir} indexes training images up to {int(indices.max())}, but the {train.name} "
                         f"training split has {len(train)}: shards of another split or data folder?")
    if adversarial.shape[1:] != train.images.shape[1:]:
        raise ValueError(f"{cafa_dir} holds images of shape {tuple(adversarial.shape[1:])}, the training split "
                         f"{tuple(train.images.shape[1:])}")
    crafted_against = provenance.get("classifier_sha256")
    if classifier_sha256 is not None and crafted_against is not None and crafted_against != classifier_sha256:
        warnings.warn(f"{cafa_dir} was crafted against classifier sha256 {crafted_against[:12]}..., but the denoiser "
                      f"is trained for {classifier_sha256[:12]}...: a transfer setting", stacklevel=2)
    return TrainingPairs(train, indices, adversarial)


def load_pairs(config: DenoiserConfig, data_root: str | Path, cafa_dir: str | Path | None,
               classifier_sha256: str) -> TrainingPairs:
    """The run's training pairs: the shards in ``cafa_dir`` for an offline source (required), the training
    split alone for an online or adaptive one (an adaptive run refuses shards it would not read)."""
    if config.adversarial_source == "offline" and cafa_dir is None:
        raise ValueError("adversarial_source 'offline' needs the CAFA shard folder (cafa_dir / --cafa-dir), made "
                         "by `python -m training craft-cafa`; or set adversarial_source: online or adaptive")
    if config.adversarial_source == "adaptive" and cafa_dir is not None:
        raise ValueError(f"adversarial_source 'adaptive' crafts its examples for every batch through the denoiser and "
                         f"the classifier and reads no shards: drop cafa_dir / --cafa-dir ({cafa_dir})")
    train = load_dataset(config.dataset, data_root, "train", check_md5=config.check_md5)
    if config.adversarial_source == "offline":
        check_shard_attack(cafa_dir, config.training_attack)  # type: ignore[arg-type]
        pairs = offline_pairs(cafa_dir, train, classifier_sha256)  # type: ignore[arg-type]
    else:
        pairs = online_pairs(train)
    return pairs.subset(config.train_subset) if config.train_subset else pairs
