"""Weight files that are byte for byte the same for the same tensors and metadata.

safetensors writes its string metadata from a hash map whose order changes from process to process,
so a file with two or more metadata keys gets another header, and another sha256, each time it is
written: a release exported twice from the same weights would not match its manifest. Here all
metadata lives under one key as sorted JSON, which has a single serialisation.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

METADATA_KEY = "cafd_zoo"


def save_canonical(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, Any]) -> None:
    """``save_file`` with ``metadata`` (any JSON) stored canonically under :data:`METADATA_KEY`.

    The file gets the usual permissions (0666 less the umask): safetensors writes it owner-only, and a
    release file in a shared store or mirror must be readable by everyone who loads it."""
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata :func:`save_canonical` stored (or, for files written before it, the plain string map)."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    return json.loads(metadata[METADATA_KEY]) if METADATA_KEY in metadata else dict(metadata)
