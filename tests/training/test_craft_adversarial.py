"""craft-adversarial: CW-L2 and PGD training pairs in craft-cafa's shards, with the attack and its parameters in
the provenance, PGD inside its eps ball, resumable byte for byte; CAFA folders keep their old provenance."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from cafd_zoo.data import load_cifar10
from cafd_zoo.models import create_model
from training.__main__ import main as training_main
from training.crafting.shard_files import read_cafa_set, shard_path
from training.classifier.config import ClassifierConfig
from training.crafting.craft_shards import craft_shards
from cafd_zoo.metrics_log import read_metrics
from training.crafting.shard_attacks import check_shard_attack, training_attack

from ..cifar_files import write_binary_cifar

CONFIG = ClassifierConfig(architecture="resnet20", dataset="cifar10", epochs=1, check_md5=False)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


@pytest.fixture
def setup(tmp_path):
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=4)  # 20 training images
    torch.manual_seed(0)
    model = create_model("resnet20")
    with torch.no_grad():
        model.fc.weight.mul_(30)  # a random network's logits barely depend on the image; now they do
    (tmp_path / "clf").mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "clf" / "model.safetensors"))
    return tmp_path


def craft(setup, out, attack=None, **kw):
    return craft_shards(setup / "clf" / "model.safetensors", CONFIG, setup / "data", setup / out, shard_size=8,
                        batch_size=4, precision="fp32", check_md5=False, attack=attack, **kw)


def natural_images(setup) -> torch.Tensor:
    return load_cifar10(setup / "data", "train", check_md5=False).images


def test_pgd_shards_stay_in_the_eps_ball_record_their_parameters_and_resume(setup):
    pgd = training_attack("pgd", steps=2)
    assert craft(setup, "pgd", pgd) == {"stopped": False, "crafted_shards": 3, "num_shards": 3}
    indices, adversarial, provenance = read_cafa_set(setup / "pgd")
    assert indices.tolist() == list(range(20)) and adversarial.dtype == torch.uint8
    diff = (adversarial.int() - natural_images(setup).int()).abs()
    assert diff.max() <= 8 and diff.float().mean() > 2  # within 8/255 after rounding, and really perturbed
    assert provenance["attack"] == "pgd" and "preset" not in provenance and "cafa" not in provenance
    assert provenance["attack_params"] == {"eps": 8 / 255, "steps": 2, "step_size": 2 / 255, "random_start": True}
    log = read_metrics(setup / "pgd" / "craft_rank0.jsonl")
    assert len(log) == 3 and all(0 <= r["prediction_changed_stored"] <= 1 for r in log)
    before = shard_path(setup / "pgd", 1).read_bytes()
    shard_path(setup / "pgd", 1).unlink()
    assert craft(setup, "pgd", pgd)["crafted_shards"] == 1  # only the missing shard, with the same random start
    assert shard_path(setup / "pgd", 1).read_bytes() == before
    with pytest.raises(ValueError, match="other settings.*attack_params"):
        craft(setup, "pgd", training_attack("pgd", steps=2, eps=4 / 255))


def test_cw_l2_shards_record_their_parameters_and_fool_the_classifier(setup):
    cw = training_attack("cw_l2", steps=5, binary_search_steps=1, initial_const=10.0, learning_rate=0.1,
                         confidence=0.0)  # a random network's logits move too little for a margin of 1
    craft(setup, "cw", cw, limit=12)
    _, adversarial, provenance = read_cafa_set(setup / "cw")
    assert provenance["attack"] == "cw_l2" and provenance["attack_params"] == {
        "confidence": 0.0, "initial_const": 10.0, "binary_search_steps": 1, "max_iterations": 5, "learning_rate": 0.1,
        "abort_early": True}
    model = create_model("resnet20").eval()
    model.load_state_dict(load_file(str(setup / "clf" / "model.safetensors")))
    natural, labels = load_cifar10(setup / "data", "train", check_md5=False).batch(torch.arange(12))
    with torch.no_grad():
        right = model(natural).argmax(1) == labels
        fooled = model(adversarial.float() / 255).argmax(1) != labels
    moved = (adversarial.int() - natural_images(setup)[:12].int()).flatten(1).abs().amax(1)
    assert right.sum() >= 2 and fooled.all()  # non-targeted: every stored example is misclassified, ...
    assert (moved[~right] <= 1).all() and (moved[right] > 1).all()  # ... the already wrong ones left as they were
    log = read_metrics(setup / "cw" / "craft_rank0.jsonl")
    assert sum(r["prediction_changed_stored"] * r["images"] for r in log) == pytest.approx(float(right.sum()))
    shard_path(setup / "cw", 0).unlink()
    before = shard_path(setup / "cw", 1).read_bytes()
    craft(setup, "cw", cw, limit=12)  # deterministic: a resumed folder is the folder a single run makes
    assert read_cafa_set(setup / "cw")[1].equal(adversarial) and shard_path(setup / "cw", 1).read_bytes() == before


def test_cafa_keeps_its_provenance_and_bytes_through_either_entry(setup):
    craft(setup, "cafa", steps=1)
    provenance = json.loads((setup / "cafa" / "provenance.json").read_text())
    assert "attack" not in provenance and provenance["preset"] == "official" and provenance["cafa"]["steps"] == 1
    craft(setup, "cafa_attack", training_attack("cafa", steps=1))
    for i in range(3):
        assert shard_path(setup / "cafa", i).read_bytes() == shard_path(setup / "cafa_attack", i).read_bytes()
    assert json.loads((setup / "cafa_attack" / "provenance.json").read_text()) == provenance
    check_shard_attack(setup / "cafa", "cafa")
    with pytest.raises(ValueError, match="holds cafa examples, but the config trains on cw_l2"):
        check_shard_attack(setup / "cafa", "cw_l2")


def test_bad_attack_settings_are_refused(setup):
    with pytest.raises(ValueError, match="attack must be one of"):
        training_attack("fgsm")
    with pytest.raises(ValueError, match="CAFA takes preset and steps only"):
        training_attack("cafa", eps=0.1)
    with pytest.raises(ValueError, match=r"pgd has no parameter\(s\) \['confidence'\]"):
        training_attack("pgd", confidence=1.0)
    with pytest.raises(ValueError, match="not also preset / steps"):
        craft(setup, "x", training_attack("pgd"), steps=3)


def test_command_line(setup, capsys):
    (setup / "clf.yaml").write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\ncheck_md5: false\n")
    argv = ["craft-adversarial", "--attack", "pgd", "--classifier-run", str(setup / "clf"), "--classifier-config",
            str(setup / "clf.yaml"), "--data", str(setup / "data"), "--out", str(setup / "cli"), "--eps", "4",
            "--step-size", "1", "--steps", "1", "--limit", "8", "--shard-size", "4", "--precision", "fp32"]
    assert training_main(argv) == 0
    assert "all 2 shards present (2 crafted now)" in capsys.readouterr().out
    assert training_main(argv) == 0
    assert "(0 crafted now)" in capsys.readouterr().out
    provenance = json.loads((setup / "cli" / "provenance.json").read_text())
    assert provenance["attack_params"] == {"eps": 4 / 255, "steps": 1, "step_size": 1 / 255, "random_start": True}
    _, adversarial, _ = read_cafa_set(setup / "cli")
    assert (adversarial.int() - natural_images(setup)[:8].int()).abs().max() <= 4
    assert training_main(["craft-adversarial", "--attack", "cw_l2"] + argv[3:]) == 1  # PGD's --eps on CW-L2
    assert "cw_l2 has no parameter(s) ['eps', 'step_size']" in capsys.readouterr().err
