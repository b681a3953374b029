"""Gray-box: the attack is crafted on a surrogate denoiser in front of the same classifier, judged on the real
defense, and every gray-box row names the surrogate (what was passed and its sha256)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cafd_zoo.hub import model_info
from cafd_zoo.integrity import sha256_of
from cafd_zoo.models import DUNET, DefendedClassifier
from training.__main__ import main as training_main
from training.denoiser.config_file import load_denoiser_config
from cafd_zoo.attacks import build_attack
from cafd_zoo.metrics_log import read_metrics
from training.engine.safetensors_io import save_canonical
from training.evaluation.run_models import load_surrogate

from ..tiny_zoo import NAME

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest

REPO = Path(__file__).resolve().parents[2]
ARGS = {"width": 4, "decoder": "official", "bn_momentum": 0.9}


def denoiser_run(folder: Path, seed: int) -> Path:
    """A train-denoiser --out folder: denoiser.safetensors with the metadata train-denoiser writes."""
    folder.mkdir()
    torch.manual_seed(seed)
    metadata = {"architecture": "dunet", "architecture_args": ARGS}
    save_canonical(DUNET(**ARGS).state_dict(), folder / "denoiser.safetensors", metadata)
    return folder


def test_graybox_crafts_on_the_surrogate_and_records_it(classifier_run, tmp_path, monkeypatch):
    import cafd_zoo.evaluation.driver as evaluate_module

    defended, surrogate = denoiser_run(tmp_path / "real", 1), denoiser_run(tmp_path / "sur", 2)
    crafted_on = []

    def recording(name, **kwargs):
        attack = build_attack(name, **kwargs)
        fn = attack.entry.fn
        return dataclasses.replace(attack, entry=dataclasses.replace(
            attack.entry, fn=lambda m, x, y, **kw: crafted_on.append(m) or fn(m, x, y, **kw)))

    monkeypatch.setattr(evaluate_module, "build_attack", recording)
    out = tmp_path / "gray.jsonl"
    assert training_main(classifier_run + ["--denoiser", str(defended / "denoiser.safetensors"), "--surrogate-denoiser",
                                           str(surrogate), "--threat", "graybox,whitebox", "--out", str(out)]) == 0
    graybox_target, whitebox_target = crafted_on
    assert graybox_target.classifier is whitebox_target.classifier  # the same classifier, another denoiser
    stored = load_file(str(surrogate / "denoiser.safetensors"))
    on_graybox, on_whitebox = graybox_target.denoiser.state_dict(), whitebox_target.denoiser.state_dict()
    assert all(torch.equal(on_graybox[key], value) for key, value in stored.items())
    assert not all(torch.equal(on_whitebox[key], value) for key, value in stored.items())
    rows = {r["threat_model"]: r for r in read_metrics(out)}
    assert rows["graybox"]["params"]["surrogate"] == {"source": str(surrogate),
                                                      "sha256": sha256_of(surrogate / "denoiser.safetensors")}
    assert "surrogate" not in rows["whitebox"]["params"]
    assert rows["graybox"]["release"] == rows["whitebox"]["release"] == "clf+real"  # judged on the real defense


def test_graybox_without_a_surrogate_and_other_misuse_get_clear_errors(classifier_run, tmp_path, capsys):
    real = denoiser_run(tmp_path / "real", 1)
    base = classifier_run + ["--denoiser", str(real / "denoiser.safetensors")]
    assert training_main(base + ["--threat", "graybox", "--out", str(tmp_path / "a.jsonl")]) == 1
    assert "pass --surrogate-denoiser" in capsys.readouterr().err
    assert training_main(base + ["--threat", "graybox", "--surrogate-denoiser", str(real),
                                 "--out", str(tmp_path / "b.jsonl")]) == 1
    assert "that is --threat whitebox" in capsys.readouterr().err  # the defended denoiser itself is no surrogate
    assert training_main(base + ["--threat", "whitebox", "--surrogate-denoiser", str(denoiser_run(tmp_path / "s", 2)),
                                 "--out", str(tmp_path / "c.jsonl")]) == 1
    assert "used only by --threat graybox" in capsys.readouterr().err
    assert training_main(base + ["--threat", "graybox", "--surrogate-denoiser", str(tmp_path),
                                 "--out", str(tmp_path / "d.jsonl")]) == 1
    assert "denoiser.safetensors does not exist" in capsys.readouterr().err


def test_a_zoo_release_serves_as_surrogate(zoo_env, tiny_net):
    torch.manual_seed(5)
    defended = DefendedClassifier(DUNET(**ARGS), tiny_net).eval()
    surrogate = load_surrogate(NAME, defended)
    assert surrogate.identity == {"source": NAME, "sha256": model_info(NAME)["files"]["denoiser"]["sha256"]}
    assert surrogate.model.classifier is tiny_net and not surrogate.model.training
    assert not torch.equal(surrogate.model.purify(torch.rand(2, 3, 32, 32)), torch.zeros(2, 3, 32, 32))


def test_the_surrogate_config_is_the_compact_recipe_with_another_seed():
    folder = REPO / "training" / "configs" / "denoiser"
    compact = load_denoiser_config(folder / "cafd_denoiser_resnet20_cifar10_compact.yaml")
    surrogate = load_denoiser_config(folder / "cafd_denoiser_resnet20_cifar10_compact_surrogate.yaml")
    assert surrogate.seed != compact.seed and dataclasses.replace(surrogate, seed=compact.seed) == compact
