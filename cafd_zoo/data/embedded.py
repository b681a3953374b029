"""The embedded evaluation sample: the first 1,000 CIFAR-10 test images, shipped in the package
(a lossless PNG grid, 2.2 MB) so that the demo and tests run with no download and no data set."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..errors import DatasetError
from ..integrity import sha256_of
from .image_set import ImageSet

PNG_PATH = Path(__file__).with_name("cifar10_test_first1000.png")
JSON_PATH = Path(__file__).with_name("cifar10_test_first1000.json")
GRID = (25, 40)


def embedded_cifar10_sample(n: int = 1000) -> ImageSet:
    """The first ``n`` (<= 1000) CIFAR-10 test images and labels, sha256-checked."""
    import numpy as np  # only here: decoding the PNG (Pillow and numpy come with torchvision)
    from PIL import Image

    try:
        meta = json.loads(JSON_PATH.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"the embedded sample's {JSON_PATH.name} is missing or damaged ({exc}); "
                           "reinstall cafd-zoo") from exc
    if sha256_of(PNG_PATH) != meta["png_sha256"]:
        raise DatasetError(f"{PNG_PATH} does not match its recorded sha256: reinstall cafd-zoo")
    rows, cols = GRID
    with Image.open(PNG_PATH) as png:
        grid = torch.from_numpy(np.array(png.convert("RGB"))).permute(2, 0, 1)
    images = grid.view(3, rows, 32, cols, 32).permute(1, 3, 0, 2, 4).reshape(rows * cols, 3, 32, 32).contiguous()
    sample = ImageSet(images, torch.tensor(meta["labels"], dtype=torch.long), "cifar10", "test", tuple(meta["classes"]))
    return sample.subset(n)
