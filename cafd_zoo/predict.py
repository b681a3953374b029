"""``cafd predict``: classify image files with a release, with and without its defense."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .errors import ZooError
from .models import DefendedClassifier

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image


class ImageFileError(ZooError):
    """An image file that cannot be read, or that has the wrong size."""


MAX_PIXELS = 4096 * 4096  # larger files are refused before they are decoded (a 32x32 model sees none of it)


class DeviceError(ZooError):
    """A ``--device`` that this machine cannot run on."""


def resolve_device(text: str) -> torch.device:
    """``text`` as a device that works here, or :class:`DeviceError`: checked before anything is loaded."""
    try:
        device = torch.device(text)
        torch.empty(1, device=device)  # "cuda" without a GPU, "cuda:99", a backend this torch lacks
        if device.type == "meta":
            raise ValueError("the meta device holds no data")
    except (RuntimeError, AssertionError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeviceError(f"device {text!r} cannot be used here ({first_line}); pass --device cpu, or cuda "
                          "on a machine with a GPU") from exc
    return device


def _high_depth_pixels(img: Image.Image, path: str | Path) -> np.ndarray | None:
    """(H, W, 3) float32 in [0, 1] for 16-bit grey (scaled by 65535) and float images (refused unless
    already in [0, 1]); ``None`` for 8-bit modes, which ``convert("RGB")`` reads correctly."""
    import numpy as np

    if img.mode.startswith("I;16") or (img.mode == "I" and img.format == "PNG"):  # 16-bit grey (PNG "I" on old Pillow)
        grey = np.asarray(img, dtype=np.float32) / 65535
    elif img.mode == "F":
        grey = np.asarray(img, dtype=np.float32)
        if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 1:
            raise ImageFileError(f"{path} is a float image with values outside [0, 1] (min {np.nanmin(grey):.4g}, "
                                 f"max {np.nanmax(grey):.4g}); save it as 8- or 16-bit, or scaled to [0, 1]")
    elif img.mode == "I":
        raise ImageFileError(f"{path} has 32-bit integer pixels, whose range is unknown; save it as 8- or 16-bit")
    else:
        return None
    return np.repeat(grey[:, :, None], 3, axis=2)


def read_image(path: str | Path, *, size: tuple[int, int] = (32, 32), resize: bool = False) -> torch.Tensor:
    """(3, H, W) float in [0, 1]; other sizes are refused unless ``resize`` (bilinear, with antialiasing).

    The size is checked from the header, before the pixels are decoded, so a huge or bomb file costs nothing."""
    import warnings

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if (width, height) != (size[1], size[0]):
                    if not resize:
                        raise ImageFileError(
                            f"{path} is {width}x{height} pixels; the model takes {size[1]}x{size[0]}. "
                            "Pass --resize to resize it (CIFAR-style models see very little at 32x32).")
                    if width * height > MAX_PIXELS:
                        raise ImageFileError(f"{path} is {width}x{height} pixels, over the {MAX_PIXELS:,}-pixel limit "
                                             f"of cafd predict; shrink it to about {size[1]}x{size[0]} first")
                pixels = _high_depth_pixels(img, path)
                if pixels is None:
                    img = img.convert("RGB")
                    if img.size != (size[1], size[0]):
                        img = img.resize((size[1], size[0]), Image.BILINEAR, reducing_gap=None)
                    pixels = np.asarray(img, dtype=np.float32) / 255
                elif pixels.shape[:2] != tuple(size):
                    pixels = _resize(pixels, size)
    except ImageFileError:
        raise
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            ValueError, SyntaxError) as exc:
        raise ImageFileError(f"cannot read {path} as an image: {exc}") from exc
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).contiguous()


def _resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear with antialiasing, in float, so 16-bit and float images keep their precision."""
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x[0].permute(1, 2, 0).clamp_(0, 1).numpy()


def predict(model: torch.nn.Module, images: torch.Tensor, classes: tuple[str, ...]) -> list[dict[str, object]]:
    """Per image: the class and confidence of the bare classifier and, for a defended model, of the defense."""
    model.eval()
    images = images.to(next(model.parameters()).device)
    rows: list[dict[str, object]] = []
    with torch.no_grad():
        outputs = ({"defended": model(images), "bare": model.classifier(images)}
                   if isinstance(model, DefendedClassifier) else {"bare": model(images)})
        probs = {k: v.softmax(1) for k, v in outputs.items()}
    for i in range(len(images)):
        row: dict[str, object] = {}
        for key, p in probs.items():
            conf, cls = p[i].max(0)
            row[key] = (classes[int(cls)] if int(cls) < len(classes) else str(int(cls)), float(conf))
        rows.append(row)
    return rows
