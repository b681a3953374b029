"""caf-distance on a tiny classifier trained here: zero at budget 0, positive when the attack fools, resumable."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import training.paper.caf_distance as caf_module
from cafd_zoo.cam import ClassActivationFeatures
from cafd_zoo.data import ImageSet
from training.__main__ import main as training_main
from training.paper.caf_distance import caf_distance, caf_points, measure
from training.classifier.config import load_config
from cafd_zoo.metrics_log import read_metrics
from training.classifier.train import build_classifier

from ..conftest import TinyNet
from ..cifar_files import write_binary_cifar


@pytest.fixture(scope="module")
def trained():
    """A TinyNet fitted to 10 well-separated synthetic classes, and 40 test images of them."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(140) % 10
    images = 0.7 * torch.rand(10, 3, 32, 32, generator=g)[labels] + 0.3 * torch.rand(140, 3, 32, 32, generator=g)
    images = (images * 255).round().to(torch.uint8)
    torch.manual_seed(0)
    model = TinyNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = images[:100].float() / 255, labels[:100]
    for _ in range(40):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    test = ImageSet(images[100:], labels[100:], "synthetic", "test", tuple(map(str, range(10))))
    return model.eval(), test


def run(model, test, out, points):
    return caf_distance(model, "tiny", test, out, points=points, n=24, batch_size=16, precision="fp32")


def test_zero_at_budget_zero_and_positive_when_the_attack_fools(trained, tmp_path):
    model, test = trained
    points = caf_points(["bim", "pgd_n", "cw_l2"], [0, 64 / 255], 5, [0, 10], 10)
    rows = run(model, test, tmp_path / "caf.jsonl", points)
    assert [(r["attack"], r["budget"]) for r in rows] == [
        ("bim", 0), ("bim", 64 / 255), ("pgd_n", 0), ("pgd_n", 64 / 255), ("cw_l2", 0), ("cw_l2", 10)]
    for natural in rows[::2]:
        assert natural["correct"] >= 20  # the model learnt the classes
        assert natural["fooling_rate"] == 0 and natural["changed"] == 0
        assert natural["caf_distance"] == 0 and natural["caf_l2"] == 0 and natural["mean_l2"] == 0
    for attacked in rows[1::2]:
        assert attacked["fooling_rate"] > 0.5 and attacked["fooled"] <= attacked["correct"]
        assert attacked["caf_distance"] > 1e-3 and attacked["caf_l2"] > 0 and attacked["mean_l2"] > 0
    assert rows[1]["params"] == {"eps": 64 / 255, "steps": 5, "random_start": False, "step_size": 64 / 255 / 5}


def test_a_rerun_skips_finished_points_and_computes_only_new_ones(trained, tmp_path, monkeypatch):
    model, test = trained
    out = tmp_path / "caf.jsonl"
    first = run(model, test, out, caf_points(["bim", "pgd_n"], [0, 8 / 255], 3, [], 1))
    crafted = []
    real_craft = caf_module.craft
    monkeypatch.setattr(caf_module, "craft", lambda attack, params, *a: crafted.append((attack, params["eps"])) or
                        real_craft(attack, params, *a))
    assert run(model, test, out, caf_points(["bim", "pgd_n"], [0, 8 / 255], 3, [], 1)) == first
    assert crafted == []  # nothing recomputed
    again = run(model, test, out, caf_points(["pgd_n"], [8 / 255, 16 / 255], 3, [], 1))
    assert crafted == [("pgd_n", 16 / 255)] * 2  # the new point only, in its two batches of 16 and 8
    assert again[0] == first[3] and len(read_metrics(out)) == 5


def test_the_distance_is_the_official_upsampled_mse(trained):
    model, test = trained
    x, y = test.batch(slice(0, 6))
    x_adv = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    extractor = ClassActivationFeatures(model)

    def literal(images):  # ReLU, min-max per image, bilinear to 32 x 32: the official maps, built in full
        phi = extractor(images).phi.relu()
        lo, hi = phi.amin(dim=(1, 2, 3), keepdim=True), phi.amax(dim=(1, 2, 3), keepdim=True)
        return F.interpolate((phi - lo) / (hi - lo), size=(32, 32), mode="bilinear", align_corners=False)
    with torch.no_grad():
        expected = (literal(x_adv) - literal(x)).pow(2).mean(dim=(1, 2, 3)).sum()
    assert measure(extractor, x, x_adv, y)["caf_distance"] == pytest.approx(float(expected), rel=1e-4)


def test_command_line(tmp_path, capsys):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=6)
    (tmp_path / "clf").mkdir()
    (tmp_path / "clf.yaml").write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\ncheck_md5: false\n")
    torch.manual_seed(0)
    model = build_classifier(load_config(tmp_path / "clf.yaml"))
    save_file(model.state_dict(), str(tmp_path / "clf" / "model.safetensors"))
    argv = ["caf-distance", "--classifier-run", str(tmp_path / "clf"),
            "--classifier-config", str(tmp_path / "clf.yaml"), "--data", str(tmp_path / "data"),
            "--attacks", "bim", "--eps", "0,16", "--steps", "1", "--n", "4", "--precision", "fp32",
            "--out", str(tmp_path / "caf.jsonl")]
    assert training_main(argv) == 0
    printed = capsys.readouterr().out
    assert "clf: class activation feature distance" in printed and "| bim | 16/255 | 4 |" in printed
    assert [r["budget"] for r in read_metrics(tmp_path / "caf.jsonl")] == [0, 16 / 255]
    assert training_main(argv[:7] + ["--attacks", "fgsm", "--out", str(tmp_path / "x.jsonl")]) == 1  # 7: up to --data
    assert "knows the attacks bim, pgd_n, cw_l2" in capsys.readouterr().err
