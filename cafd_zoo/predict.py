"""``cafd predict``: classify image files with a release, with and without its defense."""
from __future__ import annotations

from pathlib import Path

import torch

from .errors import ZooError
from .models import DefendedClassifier


class ImageFileError(ZooError):
    """An image file that cannot be read, or that has the wrong size."""


def read_image(path: str | Path, *, size: tuple[int, int] = (32, 32), resize: bool = False) -> torch.Tensor:
    """(3, H, W) float in [0, 1]; other sizes are refused unless ``resize`` (bilinear, with antialiasing)."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if img.size != (size[1], size[0]):
                if not resize:
                    raise ImageFileError(f"{path} is {img.size[0]}x{img.size[1]} pixels; the model takes {size[1]}x{size[0]}. "
                                         "Pass --resize to resize it (CIFAR-style models see very little at 32x32).")
                img = img.resize((size[1], size[0]), Image.BILINEAR, reducing_gap=None)
            pixels = np.array(img)
    except (OSError, UnidentifiedImageError) as exc:
        if isinstance(exc, ImageFileError):
            raise
        raise ImageFileError(f"cannot read {path} as an image: {exc}") from exc
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255)


def predict(model: torch.nn.Module, images: torch.Tensor, classes: tuple[str, ...]) -> list[dict[str, object]]:
    """Per image: the class and confidence of the bare classifier and, for a defended model, of the defense."""
    model.eval()
    rows: list[dict[str, object]] = []
    with torch.no_grad():
        outputs = {"defended": model(images), "bare": model.classifier(images)} if isinstance(model, DefendedClassifier) \
            else {"bare": model(images)}
        probs = {k: v.softmax(1) for k, v in outputs.items()}
    for i in range(len(images)):
        row: dict[str, object] = {}
        for key, p in probs.items():
            conf, cls = p[i].max(0)
            row[key] = (classes[int(cls)] if int(cls) < len(classes) else str(int(cls)), float(conf))
        rows.append(row)
    return rows
