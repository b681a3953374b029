"""HGD: the guided loss against a hand computation, its layer choice, the config rules, and a tiny run on CW-L2
shards that is killed, resumed bit for bit, exported and loaded back as a defended release."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import cafd_zoo
from cafd_zoo.models import DUNET, DefendedClassifier
from training.denoiser.baseline_config import BaselineDenoiserConfig
from training.classifier.config import load_config
from training.denoiser.config_file import load_denoiser_config
from training.denoiser.hgd_loss import guided_denoiser_loss
from cafd_zoo.metrics_log import read_metrics
from training.denoiser.train import train_denoiser
from training.crafting.shard_attacks import check_shard_attack

from .baseline_fixtures import build_chain, write_config

REPO = Path(__file__).resolve().parents[2]
HGD_YAML = ("method: hgd\ntraining_attack: cw_l2\ndataset: cifar10\nepochs: 2\nbatch_size: 8\ndenoiser_width: 4\n"
            "denoiser_decoder: upsample\neval_examples: 0\nlog_every: 1\nprecision: fp32\ncheck_md5: false\n")


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


def test_lgd_is_the_mean_absolute_logit_difference_computed_by_hand():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).requires_grad_(False)
    model[1].weight.copy_(torch.tensor([[1.0, -2.0, 0.5, 0.0], [0.0, 1.0, 1.0, -1.0]]))
    model[1].bias.copy_(torch.tensor([0.1, -0.3]))
    natural = torch.tensor([[0.2, 0.4, 0.6, 0.8], [1.0, 0.0, 0.5, 0.25]]).reshape(2, 1, 2, 2)
    purified = torch.tensor([[0.3, 0.1, 0.6, 0.9], [0.9, 0.2, 0.5, 0.0]]).reshape(2, 1, 2, 2)

    def logits(x: list[float]) -> list[float]:
        return [1.0 * x[0] - 2.0 * x[1] + 0.5 * x[2] + 0.1, x[1] + x[2] - x[3] - 0.3]

    differences = [abs(a - b) for p, n in zip(purified.flatten(1).tolist(), natural.flatten(1).tolist())
                   for a, b in zip(logits(p), logits(n))]
    loss, purified_logits = guided_denoiser_loss(model, purified, natural, "logits")
    assert loss.item() == pytest.approx(sum(differences) / 4, rel=1e-6)  # 2 images x 2 logits
    assert torch.allclose(purified_logits, model(purified))
    assert guided_denoiser_loss(model, natural, natural)[0].item() == 0.0


def test_the_target_carries_no_gradient_and_fgd_reads_the_last_conv_features(tiny_net, images):
    tiny_net.requires_grad_(False)
    purified = (images + 0.05 * torch.randn_like(images)).clamp(0, 1).requires_grad_(True)
    natural = images.clone().requires_grad_(True)
    loss, _ = guided_denoiser_loss(tiny_net, purified, natural, "logits")
    grad_purified, grad_natural = torch.autograd.grad(loss, [purified, natural], allow_unused=True)
    assert grad_purified.abs().sum() > 0 and grad_natural is None  # f(x) is the target, not a term
    fgd, features = guided_denoiser_loss(tiny_net, purified, natural, "features")
    expected = (tiny_net.forward_features(purified) - tiny_net.forward_features(images)).abs().mean()
    assert features.shape == (6, 16, 8, 8) and fgd.item() == pytest.approx(expected.item(), rel=1e-6)
    assert fgd.item() != pytest.approx(loss.item())
    assert guided_denoiser_loss(tiny_net, images, images, "features")[0].item() == 0.0
    with pytest.raises(ValueError, match="guided layer must be one of"):
        guided_denoiser_loss(tiny_net, purified, natural, "pixels")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no forward_features"):
        guided_denoiser_loss(nn.Sequential(nn.Flatten(), nn.LazyLinear(2)), purified, natural, "features")


def test_configs_say_only_what_the_method_uses(tmp_path):
    shipped = {p.stem: load_denoiser_config(p) for p in (REPO / "training" / "configs" / "denoiser").glob("hgd*.yaml")}
    assert set(shipped) == {"hgd_vgg19_cifar10", "hgd_prime_vgg19_cifar10", "hgd_vgg19_cifar10_cpu"}
    cpu = shipped["hgd_vgg19_cifar10_cpu"]  # the same method at the CPU budget of the paper's release
    budget = {"epochs": 10, "batch_size": 128, "schedule": cpu.schedule, "probe_split": "train_holdout",
              "eval_examples": 1000, "probe_pgd_steps": 10}
    assert cpu == dataclasses.replace(shipped["hgd_vgg19_cifar10"], **budget) and cpu.schedule.milestones == (6, 9)
    hgd = shipped["hgd_vgg19_cifar10"]
    assert isinstance(hgd, BaselineDenoiserConfig) and (hgd.method, hgd.guided_layer) == ("hgd", "logits")
    assert (hgd.training_attack, shipped["hgd_prime_vgg19_cifar10"].training_attack) == ("cw_l2", "pgd")
    assert (hgd.denoiser_decoder, hgd.weight_decay) == ("upsample", 0)
    assert (hgd.schedule.milestones, hgd.schedule.gamma) == ((42, 63), 0.1)
    assert not hgd.trains_discriminator
    bad = tmp_path / "bad.yaml"
    for line, message in [("lambda_caf: 10", "lambda_caf is not a setting of method hgd"),
                          ("adversarial_source: online", "offline shards"),
                          ("guided_layer: pixels", "guided_layer must be one of"),
                          ("method: cafd", "CAFD configs leave `method` out")]:
        bad.write_text(HGD_YAML + line + "\n")
        with pytest.raises(ValueError, match=message):
            load_denoiser_config(bad)


def test_tiny_hgd_run_resumes_bit_identically_and_exports_a_release_that_loads(tmp_path, monkeypatch):
    chain = build_chain(tmp_path, monkeypatch)
    shards = chain.craft("cw_l2", "--steps", "2", "--search-steps", "1")
    config_file = write_config(tmp_path / "hgd.yaml", HGD_YAML)
    whole = chain.train(config_file, shards, "whole")  # 20 pairs, batch 8: 3 steps per epoch, 6 in all
    records = [r for r in read_metrics(whole / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in records] == list(range(1, 7))
    assert all(r["guided"] > 0 and r["loss"] == r["guided"] and 0 <= r["purified_train_accuracy"] <= 1 for r in records)

    config, classifier = load_denoiser_config(config_file), load_config(chain.classifier_yaml)
    weights = cafd_zoo.hub.download("tiny_r20")["classifier"]
    assert train_denoiser(config, tmp_path / "killed", chain.data, weights, classifier, cafa_dir=shards,
                          stop_after_steps=4) == {"stopped_at_step": 4}  # mid-epoch 2, from checkpoint.pt
    result = train_denoiser(config, tmp_path / "killed", chain.data, weights, classifier, cafa_dir=shards, resume=True)
    assert result["steps"] == 6
    first, resumed = (load_file(str(tmp_path / d / "denoiser.safetensors")) for d in ("whole", "killed"))
    assert first.keys() == resumed.keys() and all(torch.equal(first[k], resumed[k]) for k in first)
    with pytest.raises(ValueError, match="holds cw_l2 examples, but the config trains on pgd"):
        train_denoiser(dataclasses.replace(config, training_attack="pgd"), tmp_path / "other", chain.data, weights,
                       classifier, cafa_dir=shards)

    chain.export(whole, config_file, "tiny_hgd")
    model = cafd_zoo.load("tiny_hgd")
    assert isinstance(model, DefendedClassifier) and isinstance(model.denoiser, DUNET)
    assert model.release_info["paper"].startswith("Liao et al.") and model.release_info["status"] == "embedded"
    denoiser = DUNET(width=4, decoder="upsample")
    denoiser.load_state_dict(first)
    expected = DefendedClassifier(denoiser, cafd_zoo.load("tiny_r20")).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), expected(x))
    check_shard_attack(shards, "cw_l2")
