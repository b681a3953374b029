"""cafd demo on a tiny defended release (exported, loaded by name through the manifest, sha256-checked)."""
from __future__ import annotations

from PIL import Image

from cafd_zoo.cli import main

from ..tiny_zoo import NAME, build_tiny_zoo


def test_demo_prints_its_table_and_writes_the_figure(tmp_path, monkeypatch, capsys):
    zoo = build_tiny_zoo(tmp_path)
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    figure = tmp_path / "demo.png"
    argv = ["demo", "--model", NAME, "--n", "16", "--batch-size", "8", "--pgd-steps", "2", "--cafa-steps", "2",
            "--figure", str(figure)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for setting in ("clean", "PGD-2, oblivious", "CAFA-2", "PGD-2, full white-box"):
        assert setting in out
    assert "first 16 CIFAR-10 test images" in out
    white_box = next(line for line in out.splitlines() if "full white-box" in line).split()
    oblivious = next(line for line in out.splitlines() if "PGD-2, oblivious" in line).split()
    assert white_box[-2] == oblivious[-2]  # the bare classifier's own white-box PGD: the same examples, the same cell
    with Image.open(figure) as picture:
        assert picture.size[0] > 8 * 128 and picture.size[1] >= 6 * 128  # 6 rows of 8 images at 4x


def test_demo_refuses_what_it_cannot_show(capsys):
    assert main(["demo", "--model", "vgg19_cifar10"]) == 2
    assert "is a classifier release" in capsys.readouterr().err
    assert main(["demo", "--n", "5000"]) == 2
    assert "between 1 and 1000" in capsys.readouterr().err
    assert main(["demo", "--model", "cafd_resnet50_cifar10"]) == 1
    assert "no trained weights yet" in capsys.readouterr().err
