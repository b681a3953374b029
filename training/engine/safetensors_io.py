"""Weight files that are byte for byte the same for the same tensors and metadata: all metadata under one key
as sorted JSON, which has a single serialisation (why: :mod:`cafd_zoo.weight_metadata`, which reads it back)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from cafd_zoo.weight_metadata import METADATA_KEY, read_metadata

from .atomic_files import staged

__all__ = ["METADATA_KEY", "read_metadata", "save_canonical"]


def save_canonical(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, Any]) -> None:
    """``save_file`` with ``metadata`` (any JSON) stored canonically under :data:`METADATA_KEY`.

    The file gets the usual permissions (0666 less the umask): safetensors writes it owner-only, and a
    release file in a shared store or mirror must be readable by everyone who loads it. Written atomically."""
    umask = os.umask(0)
    os.umask(umask)
    with staged(path) as partial:
        save_file(tensors, str(partial), metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True)})
        os.chmod(partial, 0o666 & ~umask)
