"""CIFAR-10 from a local folder in either official format, MD5-checked, or through torchvision.

Reads ``cifar-10-batches-bin/`` (the binary version: records of 1 label byte + 3072 pixel bytes)
or ``cifar-10-batches-py/`` (the python version). The python version is pickled; it is opened
only after its MD5 matches the official one, and then with an unpickler that can build nothing
but numpy arrays, lists, dicts, strings and numbers.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from ..errors import DatasetError
from ..integrity import md5_of
from .image_set import ImageSet

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BIN_MD5 = {
    "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25", "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421", "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d", "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
}
PY_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
}
_RECORD = 1 + 3 * 32 * 32


def load_cifar10(root: str | Path, split: str = "train", *, download: bool = False, check_md5: bool = True) -> ImageSet:
    """CIFAR-10 ``split`` ("train": 50,000 images, "test": 10,000) from ``root``.

    ``root`` may be the batches folder itself or a folder holding ``cifar-10-batches-bin`` or
    ``cifar-10-batches-py``. ``download=True`` fetches the python version with torchvision when no
    local copy is found. ``check_md5=False`` is for synthetic test folders only.
    """
    if split not in ("train", "test"):
        raise ValueError(f"CIFAR-10 split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    folder = _find_folder(root)
    if folder is None and download:
        import torchvision

        torchvision.datasets.CIFAR10(str(root), train=split == "train", download=True)
        folder = _find_folder(root)
    if folder is None:
        raise DatasetError(
            f"no CIFAR-10 under {root}: expected cifar-10-batches-bin/ or cifar-10-batches-py/ (or the folder itself). "
            "Pass download=True where there is internet; on this project's machines run "
            f"`python ../shared/data/get-cifar10 {root}`."
        )
    binary = folder.name.endswith("-bin") or (folder / "test_batch.bin").exists()
    checksums = BIN_MD5 if binary else PY_MD5
    names = [n for n in checksums if n.startswith("test" if split == "test" else "data")]
    parts = [_read_binary(folder / n) if binary else _read_python(folder / n)
             for n in _checked(folder, names, checksums, check_md5)]
    images = torch.cat([p[0] for p in parts])
    labels = torch.cat([p[1] for p in parts])
    return ImageSet(images, labels, "cifar10", split, CLASSES)


def _find_folder(root: Path) -> Path | None:
    for candidate in (root, root / "cifar-10-batches-bin", root / "cifar-10-batches-py"):
        if (candidate / "test_batch.bin").is_file() or (candidate / "test_batch").is_file():
            return candidate
    return None


def _checked(folder: Path, names: list[str], checksums: dict[str, str], check_md5: bool) -> list[str]:
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DatasetError(f"{path} is missing: the CIFAR-10 folder is incomplete; fetch it again")
        if check_md5 and md5_of(path) != checksums[name]:
            raise DatasetError(f"{path} does not have the official MD5 {checksums[name]}: the file is damaged; "
                               "fetch it again")
    return names


def _read_binary(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    raw = path.read_bytes()
    if len(raw) % _RECORD:
        raise DatasetError(f"{path} is {len(raw):,} bytes, not a whole number of {_RECORD}-byte records: damaged")
    records = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, _RECORD)
    return records[:, 1:].reshape(-1, 3, 32, 32).clone(), records[:, 0].long()


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers, and refuses every other global."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _read_python(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        batch = _ArraysOnly(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        data, labels = batch[b"data"], batch[b"labels"]
    except (pickle.UnpicklingError, KeyError, EOFError, TypeError) as exc:
        raise DatasetError(f"{path} is not a CIFAR-10 python batch: {exc}") from exc
    return (torch.as_tensor(data, dtype=torch.uint8).reshape(-1, 3, 32, 32).clone(),
            torch.as_tensor(labels, dtype=torch.long))
