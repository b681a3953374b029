"""craft-cafa on a tiny synthetic set: shards in the eps ball, resumable byte for byte, provenance kept."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from cafd_zoo.models import create_model
from training.__main__ import main as training_main
from training.crafting.shard_files import read_cafa_set, shard_path
from training.classifier.config import ClassifierConfig
from training.crafting.craft_shards import craft_shards

from ..cifar_files import write_binary_cifar

CONFIG = ClassifierConfig(architecture="resnet20", dataset="cifar10", epochs=1, check_md5=False)


@pytest.fixture
def setup(tmp_path):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=5)  # 25 training images
    torch.manual_seed(0)
    model = create_model("resnet20")
    (tmp_path / "clf").mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "clf" / "model.safetensors"))
    return tmp_path


def run(setup, out, **kw):
    return craft_shards(setup / "clf" / "model.safetensors", CONFIG, setup / "data", setup / out, steps=2,
                        shard_size=10, batch_size=4, precision="fp32", check_md5=False, **kw)


def test_shards_cover_the_set_and_stay_in_the_ball(setup):
    assert run(setup, "cafa") == {"stopped": False, "crafted_shards": 3, "num_shards": 3}
    indices, adversarial, provenance = read_cafa_set(setup / "cafa")
    assert indices.tolist() == list(range(25)) and adversarial.dtype == torch.uint8
    from cafd_zoo.data import load_cifar10

    natural = load_cifar10(setup / "data", "train", check_md5=False).images
    diff = (adversarial.int() - natural.int()).abs()
    assert diff.max() <= 8 and diff.float().mean() > 1  # within 8/255, and really perturbed
    assert (provenance["cafa"]["steps"] == 2 and provenance["preset"] == "official"
            and len(provenance["classifier_sha256"]) == 64)


def test_a_lost_shard_is_recrafted_identically(setup):
    run(setup, "cafa")
    before = shard_path(setup / "cafa", 1).read_bytes()
    shard_path(setup / "cafa", 1).unlink()
    assert run(setup, "cafa")["crafted_shards"] == 1
    assert shard_path(setup / "cafa", 1).read_bytes() == before


def test_other_settings_cannot_join_a_folder(setup):
    run(setup, "cafa")
    with pytest.raises(ValueError, match="other settings.*seed"):
        run(setup, "cafa", seed=1)


def test_incomplete_set_is_refused(setup):
    run(setup, "cafa")
    shard_path(setup / "cafa", 2).unlink()
    with pytest.raises(ValueError, match="2 of 3 shards"):
        read_cafa_set(setup / "cafa")


def test_command_line(setup, capsys):
    (setup / "clf.yaml").write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\ncheck_md5: false\n")
    argv = ["craft-cafa", "--classifier-run", str(setup / "clf"), "--classifier-config", str(setup / "clf.yaml"),
            "--data", str(setup / "data"), "--out", str(setup / "cli"), "--steps", "1", "--limit", "8",
            "--shard-size", "4",
            "--precision", "fp32"]
    assert training_main(argv) == 0
    assert "all 2 shards present (2 crafted now)" in capsys.readouterr().out
    assert training_main(argv) == 0  # a second run finds nothing left to do
    assert "(0 crafted now)" in capsys.readouterr().out
    (setup / "clf.yaml").write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\n")  # MD5 check on
    assert training_main(argv[:-2] + ["--out", str(setup / "cli2")]) == 1
    assert "official MD5" in capsys.readouterr().err
