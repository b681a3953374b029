"""The metadata inside the zoo's weight files: one key holding sorted JSON.

safetensors writes its string metadata from a hash map whose order changes from process to process, so a file
with two or more metadata keys would get another header, and another sha256, each time it is written. The
training tree writes all metadata under :data:`METADATA_KEY` (``training/engine/safetensors_io.py``); the package
reads it here, for instance to rebuild a denoiser a training run wrote (:mod:`cafd_zoo.trained_denoiser`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

METADATA_KEY = "cafd_zoo"


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata stored under :data:`METADATA_KEY` (or, for files written before it, the plain string map)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file ({exc})") from exc
    return json.loads(metadata[METADATA_KEY]) if METADATA_KEY in metadata else dict(metadata)
