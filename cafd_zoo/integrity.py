"""Read a safetensors file only if it is byte for byte the one the manifest names.

The file is read into memory once; a second thread hashes those bytes (hashlib releases the GIL)
while safetensors parses them, so the weights in memory are exactly the bytes that were hashed.
Nothing is ever unpickled.
"""
from __future__ import annotations

import hashlib
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from safetensors.torch import load

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


def load_verified(path: str | Path, sha256: str, size: int, *, refetch_hint: str = "") -> dict[str, torch.Tensor]:
    """The tensors of ``path``, after checking its size and sha256; :class:`IntegrityError` otherwise.

    The file is read once into memory; the hash and the tensors both come from those bytes, so the
    tensors are exactly what was hashed and own their memory: rewriting or truncating the file
    afterwards cannot change (or crash) a loaded model.
    """
    path = Path(path)
    if path.is_dir():
        raise IntegrityError(f"{path} is a folder, not a weights file.{refetch_hint}")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise IntegrityError(
            f"{path} has {actual_size:,} bytes but the manifest expects {size:,} "
            f"({'truncated' if actual_size < size else 'too long'}).{refetch_hint}"
        )
    with open(path, "rb") as f:
        data = f.read(size + 1)  # one byte more than expected shows a file that grew since stat()
    if len(data) != size:
        raise IntegrityError(f"{path} changed while it was read ({len(data):,} bytes, expected {size:,})."
                             f"{refetch_hint}")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(lambda: hashlib.sha256(data).hexdigest())  # releases the GIL while it hashes
        try:
            with warnings.catch_warnings():  # the tensors are private copies (see _owned), not the bytes
                warnings.filterwarnings("ignore", message="The given buffer is not writable")
                tensors: dict[str, torch.Tensor] | None = _owned(load(data))
            parse_error: Exception | None = None
        except Exception as exc:  # judged after the checksum: a corrupt file is an integrity problem first
            tensors, parse_error = None, exc
        actual = pending.result()
    if actual != sha256:
        raise IntegrityError(f"sha256 mismatch for {path}: expected {sha256}, got {actual}.{refetch_hint}")
    if parse_error is not None or tensors is None:
        raise IntegrityError(f"{path} matches its sha256 but is not a readable safetensors file: {parse_error}")
    return tensors


def _owned(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Writable copies that the process owns, floating-point ones as float32 (fp16 files load as fp32)."""
    return {k: v.to(torch.float32 if v.is_floating_point() else v.dtype, copy=True) for k, v in tensors.items()}
