"""Pictures like the paper's Figures 1 and 4: rows of images and their class activation maps, as PNG.

Drawn with Pillow (a torchvision dependency), so the package needs no plotting library.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from PIL import Image, ImageDraw


def heat_colours(cam: torch.Tensor) -> torch.Tensor:
    """A jet-like colour map: (H, W) in [0, 1] -> (3, H, W) in [0, 1], blue (cold) to red (hot)."""
    r = (1.5 - (4 * cam - 3).abs()).clamp(0, 1)
    g = (1.5 - (4 * cam - 2).abs()).clamp(0, 1)
    b = (1.5 - (4 * cam - 1).abs()).clamp(0, 1)
    return torch.stack([r, g, b])


def overlay(image: torch.Tensor, cam: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """The image with its class activation map blended over it."""
    return (1 - alpha) * image + alpha * heat_colours(cam)


def save_rows(rows: Sequence[tuple[str, torch.Tensor]], path: str | Path, *, scale: int = 4,
              label_width: int = 150) -> Path:
    """One row per (label, (N, 3, H, W) images in [0, 1]); images enlarged ``scale`` times (nearest)."""
    n, _, h, w = rows[0][1].shape
    cell_h, cell_w = h * scale, w * scale
    canvas = Image.new("RGB", (label_width + n * (cell_w + 2), len(rows) * (cell_h + 2)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (label, images) in enumerate(rows):
        top = r * (cell_h + 2)
        draw.text((6, top + cell_h // 2 - 6), label, fill="black")
        for i, img in enumerate(images):
            pixels = (img.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            tile = Image.fromarray(pixels).resize((cell_w, cell_h), Image.NEAREST)
            canvas.paste(tile, (label_width + i * (cell_w + 2), top))
    path = Path(path)
    canvas.save(path)
    return path
