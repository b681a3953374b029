"""A timm classifier goes through the whole zoo: build, CAFs, train-classifier, train-denoiser."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from cafd_zoo.cam import ClassActivationFeatures
from cafd_zoo.models import create_model
from training.classifier.config import ClassifierConfig
from training.classifier.train import train_classifier
from training.denoiser.train import train_denoiser

from ..cifar_files import write_binary_cifar
from .test_train_denoiser import TINY

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


def test_timm_models_take_zoo_inputs_and_expose_class_activation_features():
    torch.manual_seed(0)
    model = create_model("timm:test_resnet", num_classes=10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), model.net((x - 0.5) / 0.25), atol=1e-5)
        phi = ClassActivationFeatures(model).phi(x)
        f = model.net.forward_features((x - 0.5) / 0.25)
        w = model.net.get_classifier().weight[model(x).argmax(1)]
    assert torch.allclose(phi, f * w[:, :, None, None], atol=1e-6)
    with pytest.raises(KeyError, match="timm has no model 'not_a_model'"):
        create_model("timm:not_a_model")


def test_a_timm_classifier_trains_and_a_denoiser_trains_against_it(tmp_path):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=6)
    config = ClassifierConfig(architecture="timm:test_resnet", dataset="cifar10", epochs=1, batch_size=8,
                              check_md5=False, precision="fp32", eval_batch_size=8)
    result = train_classifier(config, tmp_path / "clf", tmp_path / "data")
    assert result["steps"] == 4
    denoiser = train_denoiser(dataclasses.replace(TINY, epochs=1), tmp_path / "den", tmp_path / "data",
                              tmp_path / "clf" / "model.safetensors", config)
    assert denoiser["steps"] == 4 and (tmp_path / "den" / "denoiser.safetensors").is_file()
