"""The gray-box threat model's surrogate: another denoiser in front of the same classifier (paper Table 3, bottom).

The attacker knows the classifier and the defense's design, not the deployed denoiser's weights: it
trains its own denoiser (``training/configs/denoiser/*_surrogate.yaml``), crafts on
DefendedClassifier(surrogate, classifier), and the examples are judged on the real defended model.
The surrogate's identity (what was passed, and the sha256 of its weights) goes into every gray-box row.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cafd_zoo.integrity import sha256_of
from cafd_zoo.models import DefendedClassifier

from .denoiser_init import load_initial_denoiser
from .train_denoiser import WEIGHTS


@dataclass(frozen=True)
class Surrogate:
    """The model the gray-box attack runs on, and what identifies it in the results."""

    model: DefendedClassifier
    identity: dict[str, str]


def load_surrogate(source: str, defended: DefendedClassifier) -> Surrogate:
    """DefendedClassifier(denoiser of ``source``, ``defended``'s classifier). ``source``: a train-denoiser ``--out``
    folder, its ``denoiser.safetensors``, or a zoo release with a denoiser (downloaded and sha256-checked)."""
    path = Path(source)
    if path.is_dir():
        path = path / WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: --surrogate-denoiser takes a finished train-denoiser "
                                    f"--out folder (it ends with {WEIGHTS}), such a file, or a zoo denoiser release")
    denoiser = load_initial_denoiser(str(path)).build()
    if path.is_file():
        sha256 = sha256_of(path)
    else:
        from cafd_zoo.hub import model_info

        sha256 = model_info(source)["files"]["denoiser"]["sha256"]  # load_initial_denoiser verified the file against it
    if _same_weights(denoiser, defended.denoiser):
        raise ValueError(f"the surrogate {source} holds the defended model's own denoiser: that is --threat whitebox, "
                         "not graybox; pass a separately trained denoiser")
    device = next(defended.classifier.parameters()).device
    model = DefendedClassifier(denoiser.to(device), defended.classifier, input_size=defended.input_size,
                               clamp=defended.clamp).eval()
    return Surrogate(model, {"source": str(source), "sha256": sha256})


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)
