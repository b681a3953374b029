"""Turn trained modules into a release: safetensors per component, config.json, a model card, and
the manifest entry, with sha256, size and parameter count computed from the files written."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cafd_zoo.integrity import sha256_of
from cafd_zoo.models import create_model

from ..engine.safetensors_io import save_canonical
from .manifest_io import update_manifest
from .model_card import render_model_card

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class Component:
    """One weight file of a release: which role it plays and how to rebuild its architecture."""

    role: str  # "denoiser" or "classifier"
    weights_id: str  # its key in the manifest's "weights"
    architecture: str
    arguments: dict[str, Any]
    module: nn.Module
    repo_id: str | None = None  # Hub repository; None for a file shipped in the package
    filename: str = "model.safetensors"


@dataclass
class ReleaseSpec:
    """What the manifest says about a release besides its files."""

    kind: str
    dataset: str
    summary: str
    num_classes: int = 10
    metrics: list[dict[str, Any]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=lambda: {"config": None, "code_commit": None, "seed": None})
    deviations: dict[str, list[str]] = field(default_factory=lambda: {"from_paper": [], "from_official_code": []})
    wrapper: dict[str, Any] | None = None
    input: dict[str, Any] = field(default_factory=lambda: {
        "size": [3, 32, 32], "range": [0.0, 1.0],
        "normalization": "float RGB in [0, 1]; normalisation inside the classifier"})
    license: str = "MIT"
    paper: str = "Zhou et al., Removing Adversarial Noise in Class Activation Feature Space, ICCV 2021"


def _state_dict_for_export(module: nn.Module, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: (v.to(dtype) if v.is_floating_point() else v).detach().cpu().contiguous()
            for k, v in module.state_dict().items()}


def export_release(
    name: str,
    components: list[Component],
    spec: ReleaseSpec,
    out_dir: str | Path,
    manifest_path: str | Path,
    *,
    dtype: str = "float32",
    existing: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write every component and update the manifest; returns the release's manifest entry.

    ``existing`` maps roles to weight files the manifest already lists (a defended release that
    reuses a released classifier): they are referenced, not written again.

    Hub components go to ``out_dir/<repo_id>/`` (a Hub repository's working tree: weights,
    ``config.json``, ``README.md``), ready for :func:`training.release.publish.publish`; package components
    go to ``out_dir/<filename>``. The release is ``unpublished`` until published (``embedded`` for
    package files); a file whose bytes did not change keeps its pinned revision, so other releases that share
    it (a defended release's classifier) stay loadable meanwhile. Each file is reloaded into a fresh
    architecture, strictly, before it is recorded.
    """
    out_dir = Path(out_dir)
    entries: dict[str, dict[str, Any]] = {}
    folders: dict[str, Path] = {}
    for c in components:
        folder = out_dir / c.repo_id if c.repo_id else out_dir
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / c.filename
        state = _state_dict_for_export(c.module, _DTYPES[dtype])
        save_canonical(state, path, {"architecture": c.architecture, "arguments": c.arguments, "release": name})
        fresh = create_model(c.architecture, **c.arguments)
        fresh.load_state_dict(state, strict=True)  # the file must rebuild the module it came from
        entries[c.weights_id] = {
            "architecture": c.architecture, "arguments": c.arguments, "source": "hub" if c.repo_id else "package",
            "repo_id": c.repo_id, "revision": None, "filename": c.filename, "sha256": sha256_of(path),
            "size": path.stat().st_size, "num_params": sum(p.numel() for p in fresh.parameters()), "dtype": dtype,
        }
        if c.repo_id:
            folders[c.weights_id] = folder
    release: dict[str, Any] = {
        "status": "unpublished" if folders else "embedded", "kind": spec.kind, "summary": spec.summary,
        "dataset": spec.dataset, "num_classes": spec.num_classes,
        "components": {c.role: c.weights_id for c in components} | (existing or {}),
        "input": spec.input, "metrics": spec.metrics, "training": spec.training, "deviations": spec.deviations,
        "license": spec.license, "paper": spec.paper,
    }
    if spec.wrapper is not None:
        release["wrapper"] = spec.wrapper
    if folders:
        release["why_unpublished"] = (f"exported to {out_dir}, not yet on the Hub or in a release store: "
                                      f"`python -m training publish {name} --export-dir {out_dir}` "
                                      "(--mirror-root hub to store it)")

    def change(data: dict[str, Any]) -> None:
        missing = sorted(set((existing or {}).values()) - set(data["weights"]))
        if missing:
            raise ValueError(f"{manifest_path} lists no weight file {', '.join(missing)}: export that release first")
        for weights_id, entry in entries.items():  # the same bytes again: they still are where the pin says
            known = data["weights"].get(weights_id, {})
            if known.get("revision") and known.get("sha256") == entry["sha256"]:
                entry["revision"] = known["revision"]
        data["weights"].update(entries)
        data["releases"][name] = release

    update_manifest(manifest_path, change)
    files = {c.role: entries[c.weights_id] for c in components}
    for weights_id, folder in folders.items():
        role = next(c.role for c in components if c.weights_id == weights_id)
        (folder / "config.json").write_text(json.dumps({"release": name, "role": role} | entries[weights_id],
                                                       indent=2) + "\n")
        (folder / "README.md").write_text(render_model_card(name, release, files))
    return release
