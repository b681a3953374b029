"""Write the embedded evaluation sample: the first 1,000 CIFAR-10 test images, lossless, as package data.

    python -m training.release.embedded_sample --cifar10 DIR

``DIR`` holds a real CIFAR-10 (MD5-checked on read). Writes ``cafd_zoo/data/cifar10_test_first1000.png``
(a 25 x 40 grid of the 32x32 images, row-major) and ``cifar10_test_first1000.json`` (labels,
layout, provenance and the PNG's sha256, which the loader checks).
"""
from __future__ import annotations

import argparse
import json

from PIL import Image

from cafd_zoo.data import load_cifar10
from cafd_zoo.data.embedded import GRID, JSON_PATH, PNG_PATH
from cafd_zoo.integrity import sha256_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar10", required=True, help="folder with cifar-10-batches-bin/ or cifar-10-batches-py/")
    args = parser.parse_args()
    rows, cols = GRID
    test = load_cifar10(args.cifar10, "test").subset(rows * cols)
    grid = test.images.view(rows, cols, 3, 32, 32).permute(2, 0, 3, 1, 4).reshape(3, rows * 32, cols * 32)
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(PNG_PATH, optimize=True)
    meta = {
        "source": "CIFAR-10 test split, images 0-999 in official order (test_batch, MD5-checked)",
        "layout": f"{rows} rows x {cols} columns of 32x32 RGB images, row-major",
        "classes": list(test.classes),
        "labels": test.labels.tolist(),
        "png_sha256": sha256_of(PNG_PATH),
        "command": "python -m training.release.embedded_sample --cifar10 DIR",
    }
    JSON_PATH.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {PNG_PATH} ({PNG_PATH.stat().st_size:,} bytes) and {JSON_PATH}")


if __name__ == "__main__":
    main()
