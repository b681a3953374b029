"""Checkpoints that a kill at any moment cannot damage, and that hold everything a resumed run needs
to continue bit for bit: every state_dict, the progress counters and the random number generators.

A checkpoint is written to a temporary file beside it, flushed to disk and then renamed over the
old one, so the path always names a complete checkpoint. The one before it is kept as ``<name>.prev``
(a hard link: no copy) in case the newest turns out unreadable. Loading never unpickles arbitrary
objects (``weights_only=True``), so everything stored is checked at save time to be of a kind that
such a load accepts: a checkpoint that saves fine but cannot be resumed from is found out at once,
not hours later.

Every checkpoint carries the sha256 of what it holds (:func:`payload_sha256`, over the values, not
the zip's bytes), so a flipped bit that still unpickles is refused instead of resumed into other
weights. Checkpoints written before checksums existed load as before, with a warning. A save that
fails for lack of space is one :class:`CheckpointWriteError` line; the previous checkpoint stays.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import sys
import warnings
from collections import Counter, OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import torch

from cafd_zoo.errors import ZooError

FORMAT = 1
CHECKSUM_KEY = "payload_sha256"  # a top-level key beside the payload: old readers ignore it, old files lack it


class CheckpointError(ZooError):
    """A checkpoint that cannot be read back, or that does not fit the run resuming from it."""


class CheckpointWriteError(CheckpointError, OSError):
    """A checkpoint that could not be written (a full disk, a failing device): the previous one is intact."""


class Stateful(Protocol):
    """Anything with a state_dict: modules, optimizers, LR schedulers, GradScaler."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> Any: ...


def previous_path(path: str | Path) -> Path:
    """Where the checkpoint before the newest one is kept."""
    path = Path(path)
    return path.with_name(path.name + ".prev")


# --- random number generators ---------------------------------------------------------------------

def capture_rng_state(generators: Mapping[str, torch.Generator] | None = None) -> dict[str, Any]:
    """The state of every RNG a training step may draw from, as tensors and plain numbers.

    Covers torch's CPU generator, each CUDA device's (if CUDA is available), Python's ``random``,
    NumPy's legacy global one (if NumPy is imported) and any dedicated ``generators`` by name.
    """
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": {"version": py_version, "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss_next": py_gauss},
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }
    if "numpy" in sys.modules:
        kind, keys, pos, has_gauss, cached = sys.modules["numpy"].random.get_state()
        state["numpy"] = {"kind": kind, "keys": torch.tensor(keys.tolist(), dtype=torch.int64), "pos": int(pos),
                          "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}
    return state


def restore_rng_state(state: Mapping[str, Any], generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Put every RNG back where :func:`capture_rng_state` found it."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda", [])
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            warnings.warn(f"checkpoint holds CUDA RNG states of {len(cuda)} devices, this machine has "
                          f"{torch.cuda.device_count()}: restoring the first ones only", stacklevel=2)
        for device, device_state in enumerate(cuda[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state, device)
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"].tolist()), py["gauss_next"]))
    if "numpy" in state:
        import numpy as np

        n = state["numpy"]
        np.random.set_state((n["kind"], np.asarray(n["keys"].tolist(), dtype=np.uint32), n["pos"], n["has_gauss"],
                             n["cached_gaussian"]))
    saved = state.get("generators", {})
    for name, generator in (generators or {}).items():
        if name not in saved:
            raise CheckpointError(f"checkpoint holds no state for generator {name!r} (it has {sorted(saved)})")
        generator.set_state(saved[name])


# --- what a checkpoint holds ----------------------------------------------------------------------

def training_state(
    components: Mapping[str, Stateful | None],
    *,
    epoch: int,
    step: int,
    samples_in_epoch: int,
    extras: Mapping[str, Any] | None = None,
    generators: Mapping[str, torch.Generator] | None = None,
) -> dict[str, Any]:
    """Everything to resume from: ``components`` ({"model": ..., "optimizer": ..., "scheduler": ...,
    "scaler": ...}; a GAN names two of each) by their state_dicts, ``epoch``, ``step`` (optimizer
    steps so far), ``samples_in_epoch`` (this rank's samples of ``epoch`` already trained on), the RNG
    states and JSON-able ``extras``. Build it right before saving: state_dicts share live tensors."""
    try:
        plain_extras = json.loads(json.dumps(dict(extras or {}), allow_nan=True))
    except TypeError as exc:
        raise TypeError(f"checkpoint extras must be JSON-able: {exc}") from exc
    return {
        "format": FORMAT,
        "epoch": epoch,
        "step": step,
        "samples_in_epoch": samples_in_epoch,
        "components": {name: c.state_dict() for name, c in components.items() if c is not None},
        "rng": capture_rng_state(generators),
        "extras": plain_extras,
    }


def restore_training_state(
    state: Mapping[str, Any],
    components: Mapping[str, Stateful | None],
    *,
    generators: Mapping[str, torch.Generator] | None = None,
) -> None:
    """Load every component's state_dict (modules strictly) and the RNG states from ``state``.

    Build the components exactly as the saving run did first; the counters stay in ``state``.
    """
    if state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint format {state.get('format')!r}, this code reads format {FORMAT}")
    saved = state["components"]
    for name, component in components.items():
        if component is None:
            continue
        if name not in saved:
            raise CheckpointError(f"checkpoint holds no {name!r} (it holds {sorted(saved)})")
        component.load_state_dict(saved[name])
    restore_rng_state(state["rng"], generators)


# --- files ----------------------------------------------------------------------------------------

_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray)  # exact types: subclasses pickle by class
_TORCH = (torch.Tensor, torch.dtype, torch.device, torch.Size)
_MAPPINGS = (dict, OrderedDict, Counter)


def _check_weights_only_loadable(obj: Any, where: str) -> None:
    if type(obj) in _PLAIN or isinstance(obj, _TORCH):
        return
    if type(obj) in _MAPPINGS:
        for key, value in obj.items():
            _check_weights_only_loadable(key, f"{where} key {key!r}")
            _check_weights_only_loadable(value, f"{where}[{key!r}]")
        return
    if type(obj) in (list, tuple, set):
        for i, value in enumerate(obj):
            _check_weights_only_loadable(value, f"{where}[{i}]")
        return
    if isinstance(obj, tuple(g for g in torch.serialization.get_safe_globals() if isinstance(g, type))):
        return
    raise TypeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, which torch.load(weights_only=True) "
        "refuses: store tensors, numbers, strings, lists, tuples and dicts of them instead"
    )


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX); nothing to do where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _keep_as_previous(path: Path) -> None:
    previous, staged = previous_path(path), path.with_name(f".{path.name}.prev.partial")
    staged.unlink(missing_ok=True)
    try:
        os.link(path, staged)
    except OSError:  # a file system without hard links
        shutil.copyfile(path, staged)
    os.replace(staged, previous)


def _digest(obj: Any, h: "hashlib._Hash") -> None:
    """Feed ``obj`` to ``h`` by type and value: tensors by dtype, shape and bytes; containers in order
    (sets by their members' digests, since their order is not kept across processes)."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu()
        t = (t.to_dense() if t.layout != torch.strided else t).contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, Mapping):
        h.update(f"M{type(obj).__name__}{len(obj)}:".encode())
        for key, value in obj.items():
            _digest(key, h)
            _digest(value, h)
    elif isinstance(obj, (set, frozenset)):
        members = []
        for value in obj:
            sub = hashlib.sha256()
            _digest(value, sub)
            members.append(sub.digest())
        h.update(f"S{len(members)}:".encode() + b"".join(sorted(members)))
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{type(obj).__name__}{len(obj)}:".encode())
        for value in obj:
            _digest(value, h)
    elif isinstance(obj, (bytes, bytearray)):
        h.update(f"B{len(obj)}:".encode() + bytes(obj))
    else:  # None, bool, int, float (repr is exact), complex, str, dtype, device, Size
        text = repr(obj)
        h.update(f"V{type(obj).__name__}{len(text)}:{text}".encode())


def payload_sha256(state: Mapping[str, Any]) -> str:
    """The sha256 of everything in ``state`` but its own checksum, from values: independent of how
    torch.save lays out its zip, so it can be recomputed from what torch.load gives back."""
    h = hashlib.sha256()
    _digest({k: v for k, v in state.items() if k != CHECKSUM_KEY}, h)
    return h.hexdigest()


def _remedy(path: Path) -> str:
    previous = previous_path(path)
    return (f"resume from the checkpoint before it with `mv {previous} {path}`, or delete {path} to start over"
            if previous.exists() else f"delete {path} to start over")


def save_checkpoint(path: str | Path, state: Mapping[str, Any], *, keep_previous: bool = True) -> None:
    """Write ``state`` to ``path`` atomically: a kill at any moment leaves the old checkpoint or the
    new one, never a mix. One writer per path (rank 0 in distributed training)."""
    path = Path(path)
    _check_weights_only_loadable(dict(state), "checkpoint state")
    payload = {**{k: v for k, v in state.items() if k != CHECKSUM_KEY}, CHECKSUM_KEY: payload_sha256(state)}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")  # a fixed name: a killed save leaves one stale file at most
    try:
        try:
            with open(partial, "wb") as f:
                torch.save(payload, f)
                f.flush()
                os.fsync(f.fileno())
        except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as a RuntimeError
            raise _write_error(path, exc) from exc
        if keep_previous and path.exists():
            _keep_as_previous(path)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _write_error(path: Path, exc: BaseException) -> CheckpointWriteError:
    """One line that says what failed, that the old checkpoint is untouched, and what to do."""
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "write failed" in str(exc)
    reason = "the disk is full" if full else (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    kept = (f"the previous checkpoint {path} is intact: free space on {path.parent}, then rerun with --resume"
            if path.exists() else f"no checkpoint was written yet: free space on {path.parent} and start again")
    error = CheckpointWriteError(f"could not save checkpoint {path} ({reason}); {kept}")
    error.errno = getattr(exc, "errno", None) or (errno.ENOSPC if full else None)
    return error


def load_checkpoint(path: str | Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None if there is none yet; :class:`CheckpointError` if the file
    is unreadable. Tensors come back on the CPU; ``load_state_dict`` moves them where they belong."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {reason}); "
                              f"it was probably damaged or cut short. To go on, {_remedy(path)}.") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint written by save_checkpoint")
    stored = state.pop(CHECKSUM_KEY, None)
    if stored is None:
        warnings.warn(f"{path} has no checksum (written before checkpoints carried one); resuming from it unverified",
                      stacklevel=2)
    elif stored != payload_sha256(state):
        raise CheckpointError(f"{path} does not match its checksum: it was damaged after it was written (a flipped "
                              f"bit on disk or in transfer). To go on, {_remedy(path)}.")
    return state
