"""Read a safetensors file only if it is byte for byte the one the manifest names.

safetensors maps the file lazily (its tensors read the pages on first use) while a second thread
hashes the same file through its own read-only mmap (hashlib releases the GIL), so the check costs
one sha256 pass over the bytes and no copy. Nothing is ever unpickled.
"""
from __future__ import annotations

import hashlib
import mmap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from safetensors.torch import load_file

from .errors import IntegrityError


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    return _digest_of(path, hashlib.sha256(), chunk)


def md5_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex MD5 of a file: only to compare data sets with their publishers' official MD5s."""
    return _digest_of(path, hashlib.md5(), chunk)


def _digest_of(path: str | Path, digest: "hashlib._Hash", chunk: int) -> str:
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _sha256_mapped(path: Path) -> str:
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return hashlib.sha256(mapped).hexdigest()


def load_verified(path: str | Path, sha256: str, size: int, *, refetch_hint: str = "") -> dict[str, torch.Tensor]:
    """The tensors of ``path``, after checking its size and sha256; :class:`IntegrityError` otherwise."""
    path = Path(path)
    actual_size = path.stat().st_size
    if actual_size != size:
        raise IntegrityError(
            f"{path} has {actual_size:,} bytes but the manifest expects {size:,} "
            f"({'truncated' if actual_size < size else 'too long'}).{refetch_hint}"
        )
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_sha256_mapped, path)
        try:
            tensors: dict[str, torch.Tensor] | None = load_file(str(path))
            parse_error: Exception | None = None
        except Exception as exc:  # judged after the checksum: a corrupt file is an integrity problem first
            tensors, parse_error = None, exc
        actual = pending.result()
    if actual != sha256:
        raise IntegrityError(f"sha256 mismatch for {path}: expected {sha256}, got {actual}.{refetch_hint}")
    if parse_error is not None or tensors is None:
        raise IntegrityError(f"{path} matches its sha256 but is not a readable safetensors file: {parse_error}")
    return tensors
