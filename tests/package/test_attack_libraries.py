"""AutoAttack: the DefendedClassifier goes into the authors' package as is, and the zoo's harness (bf16, channels_last,
its per-stage counts) runs every stage of the ensemble on models it cannot break."""
import re

import pytest
import torch
from pyautoattack import AutoAttack
from torch import nn

from cafd_zoo import DefendedClassifier


def test_autoattack_standard_runs_on_a_defended_classifier(tiny_dunet, images):
    torch.manual_seed(1)  # not 0: that stream also drew `images`, and rows of W would equal them
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    with torch.no_grad():
        classifier[1].weight.mul_(10)  # input-sensitive, so eps 8/255 can flip every prediction
    model = DefendedClassifier(tiny_dunet, classifier).eval()
    with torch.no_grad():
        labels = model(images).argmax(1)  # clean accuracy 100% by construction, so AA has work to do
    attack = AutoAttack(model, eps=8 / 255, norm="Linf", version="standard", seed=0)
    x_adv, _ = attack.run_standard_evaluation(images, labels, batch_size=len(images))
    assert x_adv.shape == images.shape
    assert (x_adv - images).abs().max() <= 8 / 255 + 1e-5
    assert 0 <= x_adv.min() and x_adv.max() <= 1
    with torch.no_grad():
        assert (model(x_adv).argmax(1) != labels).all()  # gradients reached x through the denoiser


def test_the_harness_runs_square_under_bf16_autocast_on_images_it_cannot_break(images):
    """pyautoattack's Square fails on bf16 logits once it has images left to attack; the harness gives it fp32."""
    from cafd_zoo.attacks import build_attack

    robust = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    with torch.no_grad():
        robust[1].weight.mul_(1e-4)  # logits barely move with the input: Square runs all its queries and fails
        robust[1].bias.copy_(torch.arange(10.0))
    labels = torch.full((len(images),), 9)
    square = build_attack("square", eps=8 / 255)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x_adv = square.run(robust, images, labels, torch.Generator())
    assert x_adv.shape == images.shape and (x_adv - images).abs().max() <= 8 / 255 + 1e-5
    with torch.no_grad():
        assert (robust(x_adv).argmax(1) == labels).all()


def test_the_harness_runs_all_of_autoattack_channels_last_on_images_it_cannot_break(images):
    """The evaluation runs channels_last; pyautoattack's APGD-T and FAB-T reshape input gradients with .view, which
    fails on a channels_last gradient. They only run on images APGD-CE could not break (a robust model's)."""
    from cafd_zoo.attacks import build_attack

    torch.manual_seed(0)
    robust = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    with torch.no_grad():
        robust[0].weight.mul_(1e-3)  # logits barely move with the input: every attack of the ensemble runs and fails
        robust[3].bias.copy_(torch.arange(10.0))
    robust = robust.to(memory_format=torch.channels_last)
    x = images[:2].contiguous(memory_format=torch.channels_last)
    labels = torch.full((2,), 9)
    attack = build_attack("autoattack", eps=8 / 255)
    x_adv = attack.run(robust, x, labels, torch.Generator())
    assert x_adv.shape == x.shape and (x_adv - x).abs().max() <= 8 / 255 + 1e-5
    assert x_adv.is_contiguous(memory_format=torch.channels_last)  # handed back in the evaluation's layout
    every = dict.fromkeys(["clean", "apgd-ce", "apgd-t", "fab-t", "square"], 2)
    assert attack.measured() == {"n": 2, "robust_after": every}  # every stage ran and none broke an image
    with torch.no_grad():
        assert (robust(x_adv).argmax(1) == labels).all()


def test_the_autoattack_meter_counts_what_each_stage_left_and_fills_the_stages_skipped_once_all_fell(
        images, monkeypatch, capsys):
    """pyautoattack skips the stages after the one that broke everything; its log is all the meter reads. Each
    stage also gets a line for whoever watches a long run (CAFD_PROGRESS=1)."""
    from cafd_zoo.attacks import build_attack

    monkeypatch.setenv("CAFD_PROGRESS", "1")

    torch.manual_seed(1)
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    with torch.no_grad():
        classifier[1].weight.mul_(10)  # input-sensitive: APGD-CE breaks every image
        labels = classifier(images).argmax(1)
    labels[0] = (labels[0] + 1) % 10  # one image wrong before any attack
    attack = build_attack("autoattack", eps=8 / 255)
    attack.run(classifier, images, labels, torch.Generator())
    after = dict.fromkeys(["apgd-ce", "apgd-t", "fab-t", "square"], 0)
    assert attack.measured() == {"n": len(images), "robust_after": {"clean": len(images) - 1} | after}
    notes = [line.split(" ", 1)[1] for line in capsys.readouterr().err.splitlines() if "AutoAttack:" in line]
    assert notes == [f"AutoAttack: {len(images) - 1} of {len(images)} images unbroken after clean",
                     f"AutoAttack: 0 of {len(images)} images unbroken after apgd-ce"]
    assert attack.measured() is None  # forgotten once summed up: the next results row starts from nothing


def test_autoattacks_examples_survive_a_log_the_meter_cannot_read(images, monkeypatch):
    """The stage counts come from pyautoattack's log lines: if their format changes, the hours of crafting are kept
    and only the counts are missing (measured() None, so no row claims them), with a warning that says what to fix."""
    from cafd_zoo.attacks import autoattack as harness
    from cafd_zoo.attacks import build_attack

    monkeypatch.setattr(harness, "_STAGE_LINE", re.compile("a line pyautoattack never writes"))
    torch.manual_seed(1)
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    with torch.no_grad():
        classifier[1].weight.mul_(10)
        labels = classifier(images).argmax(1)
    attack = build_attack("autoattack", eps=8 / 255)
    with pytest.warns(UserWarning, match="update _STAGE_LINE"):
        x_adv = attack.run(classifier, images, labels, torch.Generator())
    with torch.no_grad():
        assert (classifier(x_adv).argmax(1) != labels).all()
    assert attack.measured() is None


@pytest.mark.parametrize("name", ["autoattack", "square"])
def test_autoattack_and_square_leave_a_training_model_as_they_found_it(name, images):
    """Called outside the harness, on a model in train mode: no batch-norm statistics move during the attack, and
    no weight gradient is added to what a caller accumulates (FAB calls .backward())."""
    from cafd_zoo.attacks import build_attack

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 10)).train()
    with torch.no_grad():
        model[0].weight.mul_(1e-3)  # robust enough that every stage runs
        model[5].bias.copy_(torch.arange(10.0))
    stats = model[1].running_mean.clone()
    build_attack(name, eps=8 / 255).run(model, images[:2], torch.full((2,), 9), torch.Generator())
    assert torch.equal(model[1].running_mean, stats) and model.training
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
