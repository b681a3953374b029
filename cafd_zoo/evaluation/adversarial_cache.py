"""Adversarial examples crafted on a bare classifier, kept on disk so that they are crafted once.

The paper's oblivious setting crafts on the bare classifier and judges through each defense: every purifier in front
of the same classifier (CAFD, HGD, APE-G, JPEG, TVM, a fine-tuned denoiser; this session's or a later one's) is
judged on the very same examples. A batch's file is named by the sha256 of everything that decides its content (the
classifier's weights, the attack and its parameters, the generator seed, the precision, the device type, torch's
version and the images and labels themselves), so a hit is what crafting again would give, and an evaluation with
the cache writes the same rows as one without. The code is not in the key: an attack's registered ``revision`` is
(bumped when a change makes it craft other examples with the same parameters), and the version of the library that
implements it (pyautoattack) is kept with each batch, which another version crafts anew. One exception, on
purpose: the memory layout the attack ran in
(NCHW before commit 52d3781, channels_last since, under bf16) is not in the key. It changes only the rounding of
the same computation, and leaving it out keeps every defense in front of a classifier judged on the very examples
its earlier rows were (the paper release's first 1,000 images of each attack were crafted NCHW). So a hit may not
be bit-identical to crafting again; a minimum-norm attack (DDN), whose examples sit on the decision boundary, can
then be judged by the bare classifier a little below the 100% it had when crafted. Files are safetensors, written
atomically; never pickles.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn


def weights_fingerprint(module: nn.Module) -> str:
    """sha256 over a module's state (names, dtypes, shapes, values): equal exactly when the weights are."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _installed(distribution: str) -> str:
    """Its version; "not installed" lets the attack itself say what to install, when it runs."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class AdversarialCache:
    """The batches of one attack on one bare classifier; :meth:`get` returns None for a batch not crafted yet."""

    def __init__(self, root: str | Path, classifier: nn.Module, attack: str, params: dict[str, Any], precision: str,
                 device: torch.device, *, revision: int = 0, library: str | None = None) -> None:
        self.root = Path(root)
        identity = {"classifier": weights_fingerprint(classifier), "attack": attack, "params": params,
                    "precision": precision, "device": device.type, "torch": torch.__version__}
        if revision:  # absent at 0, so every batch cached before revisions existed keeps its name
            identity["revision"] = revision
        self.identity = json.dumps(identity, sort_keys=True)
        self.versions = {library: _installed(library)} if library else {}
        self.hits = 0

    def path(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> Path:
        digest = hashlib.sha256(f"{self.identity}|seed={seed}|{tuple(x.shape)}|".encode())
        digest.update(x.detach().float().cpu().contiguous().numpy().tobytes())
        digest.update(y.detach().long().cpu().contiguous().numpy().tobytes())
        key = digest.hexdigest()
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, x: torch.Tensor, y: torch.Tensor, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]] | None:
        """The batch's adversarial examples and what the attack's meter measured on it (STA), or None."""
        path = self.path(x, y, seed)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), "pt") as f:
                recorded = f.metadata() or {}
                saved = {k: f.get_tensor(k) for k in f.keys()}
            x_adv = saved.pop("x_adv")
        except (SafetensorError, KeyError, OSError) as exc:
            warnings.warn(f"adversarial cache file {path} is unreadable ({exc}); crafting that batch again",
                          stacklevel=2)
            return None
        other = {lib: recorded[lib] for lib, version in self.versions.items() if recorded.get(lib, version) != version}
        if other:  # a batch cached before versions were recorded has none: it is taken as this version's
            warnings.warn(f"adversarial cache file {path} was crafted with {other}, this is {self.versions}; crafting "
                          "that batch again", stacklevel=2)
            return None
        if x_adv.shape != x.shape:
            warnings.warn(f"adversarial cache file {path} holds shape {tuple(x_adv.shape)}, not {tuple(x.shape)}; "
                          "crafting that batch again", stacklevel=2)
            return None
        self.hits += 1
        return x_adv.to(x.device), {k.removeprefix("meter."): v for k, v in saved.items()}

    def put(self, x: torch.Tensor, y: torch.Tensor, seed: int, x_adv: torch.Tensor,
            measured: dict[str, torch.Tensor] | None = None) -> None:
        path = self.path(x, y, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"x_adv": x_adv} | {f"meter.{k}": v for k, v in (measured or {}).items()}
        partial = path.with_suffix(f".{os.getpid()}.partial")
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(partial),
                  metadata=self.versions or None)
        os.replace(partial, path)
