"""ROA (the occlusion attack of DOA): a 7x7 patch, nothing else touched, the position a brute-force search
would pick; and DOA: train-classifier on ROA examples, then export-classifier into a release that loads."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import cafd_zoo
from cafd_zoo.attacks import roa
from cafd_zoo.attacks.roa import candidate_positions, roa_position
from cafd_zoo.manifest import load_manifest
from cafd_zoo.models import create_model
from training.__main__ import main as training_main
from training.classifier.adversarial_training import ROATraining
from training.classifier.config import load_config
from cafd_zoo.attacks import build_attack
from training.classifier.train import train_classifier

from ..conftest import TinyNet
from ..cifar_files import write_binary_cifar

REPO = Path(__file__).resolve().parents[2]


def batch(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


def tiny(seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet().eval()


def test_the_patch_is_exactly_7x7_on_the_grid_and_every_other_pixel_is_bit_identical():
    x, y = batch(6)
    x_adv = roa(tiny(), x, y, size=7, stride=2, steps=4, generator=torch.Generator().manual_seed(0))
    changed = (x_adv != x).any(1)  # (N, H, W): pixels with any channel changed
    for image in changed:
        rows, cols = image.any(1).nonzero().flatten(), image.any(0).nonzero().flatten()
        assert int(image.sum()) == 49 and len(rows) == 7 and len(cols) == 7  # a full 7x7 square, nothing else
        assert rows[-1] - rows[0] == 6 and cols[-1] - cols[0] == 6
        assert rows[0] % 2 == 0 and cols[0] % 2 == 0  # a corner of the stride-2 grid
    assert torch.equal(x_adv[~changed.unsqueeze(1).expand_as(x)], x[~changed.unsqueeze(1).expand_as(x)])
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    gray = roa(tiny(), x, y, size=7, stride=2, steps=0)
    assert set(gray[(gray != x)].unique().tolist()) == {0.5}  # zero steps: the gray patch alone


def test_the_chosen_position_is_the_argmax_of_a_brute_force_search():
    model, (x, y) = tiny(1), batch(5, size=16, seed=1)
    positions = candidate_positions(16, 16, 7, 1)
    assert len(positions) == 10 * 10
    brute = torch.empty(len(x), len(positions))
    with torch.no_grad():
        for i in range(len(x)):
            for p, (r, c) in enumerate(positions.tolist()):
                occluded = x[[i]].clone()
                occluded[..., r:r + 7, c:c + 7] = 0.5
                brute[i, p] = F.cross_entropy(model(occluded), y[[i]])
    rows, cols = roa_position(model, x, y, size=7, stride=1, search_batch=35)  # 7 positions per pass: 15 passes
    chosen = rows * 10 + cols
    assert torch.allclose(brute[torch.arange(len(x)), chosen], brute.max(1).values, atol=1e-5)
    top2 = brute.topk(2, dim=1).values
    clear = top2[:, 0] - top2[:, 1] > 1e-4  # where the maximum is not a near-tie, the index itself must match
    assert clear.sum() >= 3 and torch.equal(chosen[clear], brute.argmax(1)[clear])


def test_when_every_position_ties_the_position_is_drawn_reproducibly():
    model = tiny()
    torch.nn.init.zeros_(model.fc.weight)  # constant logits: every position has the same loss
    x, y = batch(16, size=16)
    draw = [roa_position(model, x, y, size=7, stride=1, generator=torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    assert torch.equal(draw[0][0], draw[1][0]) and torch.equal(draw[0][1], draw[1][1])
    assert not torch.equal(draw[0][0], draw[2][0])
    assert len(set(zip(draw[0][0].tolist(), draw[0][1].tolist()))) > 4  # spread over the grid, not the first position


def test_optimising_the_patch_raises_the_loss_and_leaves_the_model_as_found():
    model, (x, y) = tiny(), batch(8)
    model.train()
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    gray, attacked = (roa(model, x, y, size=7, stride=4, steps=steps, step_size=0.05) for steps in (0, 10))
    assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers())  # BN statistics untouched
    assert model.training and all(p.requires_grad and p.grad is None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert F.cross_entropy(model(attacked), y) > F.cross_entropy(model(gray), y)


def test_bad_arguments_say_what_was_expected():
    x, y = batch(2)
    with pytest.raises(ValueError, match=r"1 <= size <= 32 .* got size 33"):
        roa(tiny(), x, y, size=33)
    with pytest.raises(ValueError, match="stride >= 1"):
        roa(tiny(), x, y, stride=0)
    with pytest.raises(ValueError, match="step_size > 0"):
        roa(tiny(), x, y, step_size=0)


def test_roa_is_an_evaluation_attack():
    attack = build_attack("roa", steps=2)
    assert attack.params["size"] == 7 and attack.params["steps"] == 2 and "eps" not in attack.params
    x, y = batch(3)
    x_adv = attack.run(tiny(), x, y, torch.Generator().manual_seed(0))
    assert ((x_adv != x).any(1).sum((1, 2)) == 49).all()


def test_doa_trains_and_exports_into_the_release_the_manifest_describes(tmp_path, monkeypatch):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=6)
    config = tmp_path / "doa_tiny.yaml"
    config.write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\nbatch_size: 8\nlr: 0.05\ncheck_md5: false\n"
                      "precision: fp32\nschedule: {kind: onecycle, warmup: 0.25}\nlog_every: 1\neval_batch_size: 16\n"
                      "adversarial: {attack: roa, size: 7, stride: 8, steps: 2}\n")
    result = train_classifier(load_config(config), tmp_path / "run", tmp_path / "data")
    assert result["steps"] == 4
    assert result["config"]["adversarial"] == dataclasses.asdict(ROATraining(size=7, stride=8, steps=2))
    manifest = tmp_path / "weights_manifest.json"
    shutil.copy(REPO / "weights_manifest.json", manifest)  # the release is listed: its summary and deviations stay
    before = json.loads(manifest.read_text())["releases"]["doa_vgg19_cifar10"]
    argv = ["export-classifier", "--run", str(tmp_path / "run"), "--config", str(config),
            "--release", "doa_vgg19_cifar10", "--manifest", str(manifest), "--out", str(tmp_path / "pkg")]
    assert training_main(argv) == 0
    info = load_manifest(manifest).info("doa_vgg19_cifar10")
    assert info["status"] == "embedded" and info["kind"] == "classifier" and set(info["files"]) == {"classifier"}
    assert info["summary"] == before["summary"] and info["deviations"] == before["deviations"]
    command = f"python -m training train-classifier --config {config.as_posix()} --data DIR --out RUN"
    assert info["metrics"][0]["command"] == command
    monkeypatch.setattr(cafd_zoo.weight_sources, "PACKAGE_WEIGHTS", tmp_path / "pkg")
    model = cafd_zoo.load("doa_vgg19_cifar10", manifest=load_manifest(manifest))
    trained = create_model("resnet20")
    trained.load_state_dict(load_file(str(tmp_path / "run" / "model.safetensors")))
    x, _ = batch(2)
    with torch.no_grad():
        assert torch.equal(model(x), trained.eval()(x))
