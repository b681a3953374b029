"""Fixtures of the training tests."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from training.classifier.train import build_classifier

from .test_train_denoiser import CLASSIFIER, CLASSIFIER_YAML


@pytest.fixture
def classifier_run(tmp_path) -> list[str]:
    """A random ResNet-20 train-classifier folder, and the start of an evaluate command on it."""
    run = tmp_path / "clf"
    run.mkdir()
    torch.manual_seed(0)
    save_file(build_classifier(CLASSIFIER).state_dict(), str(run / "model.safetensors"))
    (tmp_path / "clf.yaml").write_text(CLASSIFIER_YAML)
    base = ["evaluate", "--classifier-run", str(run), "--classifier-config", str(tmp_path / "clf.yaml"), "--embedded",
            "--n", "4", "--batch-size", "4", "--attacks", "pgd_n", "--steps", "1", "--precision", "fp32"]
    return base
