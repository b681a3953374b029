"""A tiny zoo in a local mirror, written with the package alone (no training tree), so the package tests run
against an installed wheel. Its files follow what ``training/release`` export and publish write (the
training tests check that path end to end): safetensors weights, a schema-valid manifest with pinned
revisions, and the mirror layout ``<org>/<name>/<commit>/<file>`` with ``refs/main``; the release is
``stored``, as ``publish --mirror-root`` marks it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from cafd_zoo.integrity import sha256_of
from cafd_zoo.manifest import load_manifest
from cafd_zoo.models import create_model

# The test manifest reuses a real release name, so the repository's hubconf entrypoint serves it,
# but with tiny architectures so the suite stays fast.
NAME = "cafd_vgg19_cifar10"
DENOISER_ARGS = {"width": 4, "decoder": "official", "bn_momentum": 0.9}
CLASSIFIER_ARGS = {"num_classes": 10}


@dataclass
class TinyZoo:
    manifest_path: Path
    export_dir: Path
    mirror_root: Path
    denoiser: torch.nn.Module
    classifier: torch.nn.Module

    def manifest(self):
        return load_manifest(self.manifest_path)


def _weights_entry(zoo: TinyZoo, repo_id: str, architecture: str, arguments: dict, model: torch.nn.Module) -> dict:
    """Write ``model`` as ``<export>/<repo_id>/model.safetensors`` and into the mirror; its manifest entry."""
    folder = zoo.export_dir / repo_id
    folder.mkdir(parents=True)
    path = folder / "model.safetensors"
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))
    commit = hashlib.sha1(f"model.safetensors {sha256_of(path)}".encode()).hexdigest()
    (zoo.mirror_root / repo_id / commit).mkdir(parents=True)
    (zoo.mirror_root / repo_id / commit / "model.safetensors").write_bytes(path.read_bytes())
    (zoo.mirror_root / repo_id / "refs").mkdir()
    (zoo.mirror_root / repo_id / "refs" / "main").write_text(commit)
    return {"architecture": architecture, "arguments": arguments, "source": "hub", "repo_id": repo_id,
            "revision": commit, "filename": "model.safetensors", "sha256": sha256_of(path), "size": path.stat().st_size,
            "num_params": sum(p.numel() for p in model.parameters()), "dtype": "float32"}


def build_tiny_zoo(root: Path) -> TinyZoo:
    torch.manual_seed(0)
    denoiser = create_model("dunet", **DENOISER_ARGS)
    classifier = create_model("resnet20", **CLASSIFIER_ARGS)
    with torch.no_grad():  # non-trivial BN statistics, so a wrong load would show
        for m in list(denoiser.modules()) + list(classifier.modules()):
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    zoo = TinyZoo(root / "manifest.json", root / "export", root / "mirror", denoiser.eval(), classifier.eval())
    weights = {"tiny_dunet": _weights_entry(zoo, "test-org/tiny-dunet", "dunet", DENOISER_ARGS, denoiser),
               "tiny_resnet20": _weights_entry(zoo, "test-org/tiny-resnet20", "resnet20", CLASSIFIER_ARGS, classifier)}
    release = {
        "status": "stored", "kind": "defended", "summary": "A tiny test release.", "dataset": "cifar10",
        "num_classes": 10, "components": {"denoiser": "tiny_dunet", "classifier": "tiny_resnet20"},
        "input": {"size": [3, 32, 32], "range": [0.0, 1.0],
                  "normalization": "float RGB in [0, 1]; normalisation inside the classifier"},
        "metrics": [{"threat_model": "clean", "target": "defended", "attack": "none", "budget": {}, "n": 8, "seed": 0,
                     "error_rate": 0.875, "command": "pytest tests/package/test_hub.py"}],
        "training": {"config": None, "code_commit": None, "seed": None},
        "deviations": {"from_paper": [], "from_official_code": []}, "license": "MIT",
        "paper": "Zhou et al., Removing Adversarial Noise in Class Activation Feature Space, ICCV 2021",
        "wrapper": {"clamp": True, "input_size": [32, 32]},
    }
    zoo.manifest_path.write_text(json.dumps({"schema_version": 1, "weights": weights, "releases": {NAME: release}},
                                            indent=2) + "\n")
    zoo.manifest()  # validated against the schema, as every load does
    return zoo
