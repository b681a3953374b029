"""Data sets in the zoo's convention: images in [0, 1], NCHW; read from the official formats."""
from __future__ import annotations

from pathlib import Path

from .augment import random_crop_flip
from .cifar10 import load_cifar10
from .embedded import embedded_cifar10_sample
from .image_set import ImageSet
from .svhn import load_svhn

__all__ = ["ImageSet", "embedded_cifar10_sample", "load_cifar10", "load_dataset", "load_svhn", "random_crop_flip"]

LOADERS = {"cifar10": load_cifar10, "svhn": load_svhn}


def load_dataset(name: str, root: str | Path, split: str, **kwargs: object) -> ImageSet:
    """``load_dataset("cifar10" | "svhn", root, split)``; see each loader for ``download`` and ``check_md5``."""
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[name](root, split, **kwargs)  # type: ignore[operator]
