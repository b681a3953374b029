"""SVHN (cropped digits) from the official ``{split}_32x32.mat`` files, MD5-checked, or through torchvision.

The files hold ``X`` uint8 (32, 32, 3, N) and ``y`` (N, 1) with the label 10 for the digit 0.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import DatasetError
from ..integrity import md5_of
from .image_set import ImageSet

CLASSES = tuple(str(d) for d in range(10))
MD5 = {"train": "e26dedcc434d2e4c54c9b2d4a06d8373", "test": "eb5a983be6a315427106f1b164d9cef3",
       "extra": "a93ce644f1a588dc4d68dda5feec44a7"}


def load_svhn(root: str | Path, split: str = "train", *, download: bool = False, check_md5: bool = True) -> ImageSet:
    """SVHN ``split`` ("train": 73,257, "test": 26,032, "extra": 531,131 digits) from ``root``/{split}_32x32.mat."""
    if split not in MD5:
        raise ValueError(f"SVHN split must be one of {sorted(MD5)}, got {split!r}")
    path = Path(root) / f"{split}_32x32.mat"
    if not path.is_file() and download:
        import torchvision

        torchvision.datasets.SVHN(str(root), split=split, download=True)
    if not path.is_file():
        raise DatasetError(f"{path} is missing: pass download=True where there is internet, "
                           "or copy the official file there")
    if check_md5 and md5_of(path) != MD5[split]:
        raise DatasetError(f"{path} does not have the official MD5 {MD5[split]}: the file is damaged; fetch it again")
    try:
        from scipy.io import loadmat
    except ImportError as exc:
        raise DatasetError("reading SVHN needs scipy: pip install 'cafd-zoo[eval]' "
                           "(or [train], or scipy alone)") from exc
    try:
        mat = loadmat(str(path))
        x, y = mat["X"], mat["y"]
    except (ValueError, KeyError, OSError) as exc:
        raise DatasetError(f"{path} is not an SVHN .mat file: {exc}") from exc
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or y.reshape(-1).shape[0] != x.shape[3]:
        raise DatasetError(f"{path} has X {x.shape} and y {y.shape}; expected (32, 32, 3, N) and (N, 1)")
    images = torch.from_numpy(x).permute(3, 2, 0, 1).contiguous()
    labels = torch.from_numpy(y.reshape(-1).astype("int64")) % 10  # the official files label the digit 0 as 10
    return ImageSet(images.to(torch.uint8), labels, "svhn", split, CLASSES)
