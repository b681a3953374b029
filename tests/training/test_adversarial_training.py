"""AT: the config's adversarial: block, the PGD batch (eps ball, [0, 1], BN statistics untouched), training
that resumes bit for bit, and the unpublished AT/DOA releases that say so."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import cafd_zoo
from cafd_zoo.errors import UnpublishedReleaseError
from cafd_zoo.models import DefendedClassifier, create_model
from training.classifier.adversarial_training import PGDTraining, ROATraining, adversarial_batch, attack_generator
from training.classifier.robust_probe import collapsed
from training.classifier.config import ClassifierConfig, config_dict, load_config
from training.engine.lr_schedule import Schedule
from cafd_zoo.metrics_log import read_metrics
from training.classifier.train import train_classifier

from ..cifar_files import write_binary_cifar

REPO = Path(__file__).resolve().parents[2]
EPS = 8 / 255


def test_the_pgd_batch_stays_in_the_ball_and_leaves_bn_statistics_alone():
    torch.manual_seed(0)
    model = create_model("resnet20").train()
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
    buffers = {k: v.clone() for k, v in model.named_buffers()}

    def craft(step: int) -> torch.Tensor:
        generator = attack_generator(0, step, 0, torch.device("cpu"))
        return adversarial_batch(PGDTraining(steps=3), model, x, y, generator=generator)

    x_adv = craft(5)
    assert (x_adv - x).abs().max() <= EPS + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv != x).float().mean() > 0.5
    assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers())  # 3 attack passes, no BN update
    assert all(m.training for m in model.modules())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())
    assert torch.equal(craft(5), x_adv) and not torch.equal(craft(6), x_adv)  # a function of (seed, step)
    with torch.no_grad():
        model.eval()
        assert F.cross_entropy(model(x_adv), y) > F.cross_entropy(model(x), y)
        model.train()
        model(x)  # the control: one train-mode pass does move the statistics this test guards
    assert not torch.equal(model.bn1.running_mean, buffers["bn1.running_mean"])


def test_the_adversarial_block_is_read_and_every_mistake_named(tmp_path):
    config = tmp_path / "at.yaml"
    base = "architecture: vgg19\ndataset: cifar10\nepochs: 1\n"
    config.write_text(base + "adversarial: {attack: pgd, eps: 0.0313725, steps: 10, step_size: 0.00784}\n")
    assert load_config(config).adversarial == PGDTraining(eps=0.0313725, steps=10, step_size=0.00784)
    shipped = REPO / "training" / "configs"
    madry = PGDTraining(eps=EPS, steps=10, step_size=2 / 255, random_start=True)
    for name in ("at_vgg19_cifar10.yaml", "at_vgg19_cifar10_short.yaml"):
        assert load_config(shipped / name).adversarial == madry
    assert load_config(shipped / "doa_vgg19_cifar10.yaml").adversarial == ROATraining(size=7, stride=1, steps=30)
    mistakes = {
        "{attack: fgsm, eps: 0.03}": r"attack must be 'pgd' \(AT, Madry et al.\) or 'roa'",
        "{attack: pgd, eps: 8}": r"eps must be in \(0, 1\] \(the \[0, 1\] pixel scale",
        "{attack: pgd, eps: 8/255}": "YAML has no fractions: write 8/255 as 0.0313725",
        "{attack: pgd, steps: 0}": "steps must be an integer >= 1, got 0",
        "{attack: pgd, size: 7}": r"unknown key\(s\) \['size'\] for attack 'pgd'",
        "{attack: roa, eps: 0.03}": r"unknown key\(s\) \['eps'\] for attack 'roa'",
        "{attack: roa, stride: 0}": "stride must be an integer >= 1",
        "{attack: roa, random_start: maybe}": "random_start must be true or false",
        "pgd": "expected a mapping",
        "{attack: pgd}\nrobust_probe_images: -1": "robust_probe_images must be an integer >= 0, got -1",
        "{attack: roa}\nrobust_probe_images: 512": "robust_probe_images watches PGD adversarial training",
    }
    for block, message in mistakes.items():
        config.write_text(base + f"adversarial: {block}\n")
        with pytest.raises(ValueError, match=message) as caught:
            load_config(config)
        assert str(config) in str(caught.value)


TINY_AT = ClassifierConfig(architecture="resnet20", dataset="cifar10", epochs=2, batch_size=8, lr=0.05,
                           schedule=Schedule("onecycle", warmup=0.25), checkpoint_every=1000, log_every=1,
                           eval_batch_size=16, check_md5=False, precision="fp32", adversarial=PGDTraining(steps=2))


def test_at_training_killed_and_resumed_equals_an_uninterrupted_run(tmp_path):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=6)  # 30 train images: 4 steps an epoch
    data = tmp_path / "data"
    assert train_classifier(TINY_AT, tmp_path / "whole", data)["steps"] == 8
    assert train_classifier(TINY_AT, tmp_path / "killed", data, stop_after_steps=5) == {"stopped_at_step": 5}
    assert train_classifier(TINY_AT, tmp_path / "killed", data, resume=True)["steps"] == 8
    train_classifier(dataclasses.replace(TINY_AT, adversarial=None), tmp_path / "clean", data)
    whole, resumed, clean = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("whole", "killed", "clean"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert not all(torch.equal(whole[k], clean[k]) for k in whole)  # the adversarial block changed what was trained
    assert [r["step"] for r in read_metrics(tmp_path / "killed" / "metrics.jsonl") if "loss" in r] == list(range(1, 9))


def test_the_robust_probe_logs_pgd_accuracy_on_training_images_every_epoch_and_keeps_each_epoch(tmp_path):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=6)
    data, probed = tmp_path / "data", dataclasses.replace(TINY_AT, robust_probe_images=12)
    whole = train_classifier(probed, tmp_path / "whole", data)
    assert train_classifier(probed, tmp_path / "killed", data, stop_after_steps=5) == {"stopped_at_step": 5}
    resumed = train_classifier(probed, tmp_path / "killed", data, resume=True)
    assert len(whole["train_pgd10_accuracy"]) == 2 and all(0 <= a <= 1 for a in whole["train_pgd10_accuracy"])
    assert resumed["train_pgd10_accuracy"] == whole["train_pgd10_accuracy"]  # same weights, same fixed random start
    assert whole["best_probe_epoch"] in (1, 2)
    logged = [r for r in read_metrics(tmp_path / "killed" / "metrics.jsonl") if "train_pgd10_accuracy" in r]
    assert [r["epoch"] for r in logged] == [1, 2]
    last = load_file(str(tmp_path / "whole" / "epochs" / "epoch_002.safetensors"))
    final = load_file(str(tmp_path / "whole" / "model.safetensors"))
    assert all(torch.equal(last[k], final[k]) for k in final)
    assert (tmp_path / "whole" / "epochs" / "epoch_001.safetensors").exists()
    assert "train_pgd10_accuracy" not in train_classifier(TINY_AT, tmp_path / "off", data)  # off by default
    assert not (tmp_path / "off" / "epochs").exists()


def test_a_fall_of_more_than_twenty_points_in_one_epoch_is_catastrophic_overfitting():
    assert collapsed(0.45, 0.05) and not collapsed(0.45, 0.30) and not collapsed(None, 0.0)


def test_configs_without_the_block_record_what_they_recorded_before_it_existed():
    assert config_dict(TINY_AT)["adversarial"] == {"attack": "pgd", "eps": EPS, "steps": 2, "step_size": 2 / 255,
                                                   "random_start": True}
    assert "adversarial" not in config_dict(dataclasses.replace(TINY_AT, adversarial=None))  # old checkpoints resume
    assert "robust_probe_images" not in config_dict(TINY_AT)


@pytest.mark.parametrize("name", ["at_vgg19_cifar10", "doa_vgg19_cifar10"])
def test_the_baseline_releases_are_bare_classifiers_of_their_adversarial_training_config(name):
    info = cafd_zoo.model_info(name)
    assert info["kind"] == "classifier" and set(info["files"]) == {"classifier"}
    model = cafd_zoo.load(name, pretrained=False)
    assert not isinstance(model, DefendedClassifier) and type(model).__name__ == "VGG"
    config = load_config(REPO / info["training"]["config"])
    assert config.architecture == info["files"]["classifier"]["architecture"]
    assert config.adversarial.attack == {"at": "pgd", "doa": "roa"}[name.split("_")[0]]


def test_doa_is_not_published_yet_and_at_is_stored_with_its_white_box_numbers(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the stored release needs no network
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(UnpublishedReleaseError, match="'doa_vgg19_cifar10' has no trained weights yet"):
        cafd_zoo.load("doa_vgg19_cifar10")
    assert cafd_zoo.model_info("doa_vgg19_cifar10")["metrics"] == []
    info = cafd_zoo.model_info("at_vgg19_cifar10")
    assert info["status"] == "stored" and info["files"]["classifier"]["dtype"] == "float16"
    assert load_config(REPO / info["training"]["config"]).adversarial.steps == 1  # fast AT, as the deviations say
    whitebox = [m for m in info["metrics"] if m["attack"] == "pgd_n" and m["target"] == "classifier"]
    assert whitebox and all(m["threat_model"] == "whitebox" and m["n"] >= 1000 for m in whitebox)
    assert isinstance(cafd_zoo.load("at_vgg19_cifar10"), torch.nn.Module)  # from hub/, every sha256 checked
