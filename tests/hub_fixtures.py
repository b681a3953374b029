"""A tiny zoo published into a local mirror: exported by the real export, served over real HTTP."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cafd_zoo.manifest import load_manifest
from cafd_zoo.models import create_model
from training.release.export import Component, ReleaseSpec, export_release
from training.release.publish import publish

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
    export_release(
        NAME,
        [Component("denoiser", "tiny_dunet", "dunet", DENOISER_ARGS, denoiser, repo_id="test-org/tiny-dunet"),
         Component("classifier", "tiny_resnet20", "resnet20", CLASSIFIER_ARGS, classifier, repo_id="test-org/tiny-resnet20")],
        ReleaseSpec(kind="defended", dataset="cifar10", summary="A tiny test release.", wrapper={"clamp": True, "input_size": [32, 32]},
                    metrics=[{"threat_model": "clean", "target": "defended", "attack": "none", "budget": {}, "n": 8, "seed": 0,
                              "error_rate": 0.875, "command": "pytest tests/test_hub.py"}]),
        zoo.export_dir,
        zoo.manifest_path,
    )
    publish(NAME, zoo.export_dir, zoo.manifest_path, mirror_root=zoo.mirror_root)
    return zoo
