"""The chain the baseline tests share: synthetic CIFAR -> tiny classifier release -> offline attack shards.

train-classifier -> export-classifier (a package release in a private manifest) -> craft-adversarial
against that release by name, exactly the commands a user runs, on 20 synthetic training images.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

import cafd_zoo
from training.__main__ import main as training_main

from ..cifar_files import write_binary_cifar

CLASSIFIER_YAML = ("architecture: resnet20\ndataset: cifar10\nepochs: 1\nbatch_size: 8\ncheck_md5: false\n"
                   "precision: fp32\n")
CLASSIFIER = "tiny_r20"


@dataclass
class BaselineChain:
    root: Path
    manifest: Path
    package: Path

    @property
    def data(self) -> str:
        return str(self.root / "data")

    @property
    def classifier_yaml(self) -> str:
        return str(self.root / "clf.yaml")

    def craft(self, attack: str, *extra: str) -> Path:
        """The 20 training images' ``attack`` copy, in shards of 10, against the released classifier."""
        out = self.root / attack
        assert training_main(["craft-adversarial", "--attack", attack, "--classifier-run", CLASSIFIER,
                              "--classifier-config", self.classifier_yaml, "--data", self.data, "--out", str(out),
                              "--shard-size", "10", "--batch-size", "10", "--precision", "fp32", *extra]) == 0
        return out

    def train(self, config: Path, shards: Path, out: str) -> Path:
        assert training_main(["train-denoiser", "--config", str(config), "--classifier-run", CLASSIFIER,
                              "--classifier-config", self.classifier_yaml, "--adversarial-dir", str(shards),
                              "--data", self.data, "--out", str(self.root / out)]) == 0
        return self.root / out

    def export(self, run: Path, config: Path, release: str) -> None:
        assert training_main(["export-defended", "--run", str(run), "--config", str(config), "--classifier", CLASSIFIER,
                              "--classifier-run", CLASSIFIER, "--release", release, "--manifest", str(self.manifest),
                              "--out", str(self.package)]) == 0


def build_chain(tmp_path: Path, monkeypatch) -> BaselineChain:
    """Train and export the tiny classifier release; the manifest and package folder are the test's own."""
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=4)
    (tmp_path / "clf.yaml").write_text(CLASSIFIER_YAML)
    chain = BaselineChain(tmp_path, tmp_path / "m.json", tmp_path / "pkg")
    monkeypatch.setenv("CAFD_MANIFEST", str(chain.manifest))
    monkeypatch.setattr(cafd_zoo.weight_sources, "PACKAGE_WEIGHTS", chain.package)
    torch.manual_seed(0)
    assert training_main(["train-classifier", "--config", chain.classifier_yaml, "--data", chain.data,
                          "--out", str(tmp_path / "clf")]) == 0
    assert training_main(["export-classifier", "--run", str(tmp_path / "clf"), "--config", chain.classifier_yaml,
                          "--release", CLASSIFIER, "--manifest", str(chain.manifest), "--out", str(chain.package)]) == 0
    return chain


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
