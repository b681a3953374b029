"""finetune-denoiser: start from a run's denoiser file or a released denoiser, and say so."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from training.__main__ import main as training_main
from training.denoiser.train import train_denoiser

from ..tiny_zoo import NAME, build_tiny_zoo
from .test_train_denoiser import CLASSIFIER, CLASSIFIER_YAML, TINY, setup  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest

ONE_EPOCH = dataclasses.replace(TINY, epochs=1)


def parameters_of(path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if "running" not in k and "num_batches" not in k}


def test_starts_from_an_earlier_runs_weights(setup, tmp_path):  # noqa: F811
    train_denoiser(ONE_EPOCH, tmp_path / "first", setup["data"], setup["weights"], CLASSIFIER)
    start = tmp_path / "first" / "denoiser.safetensors"
    frozen_lr = dataclasses.replace(ONE_EPOCH, lr=0.0)  # no update: the weights must stay the starting ones
    result = train_denoiser(frozen_lr, tmp_path / "still", setup["data"], setup["weights"], CLASSIFIER,
                            init_denoiser=str(start))
    assert result["initial_denoiser"].startswith("file sha256 ")
    before, after = parameters_of(start), parameters_of(tmp_path / "still" / "denoiser.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)
    tuned = train_denoiser(ONE_EPOCH, tmp_path / "tuned", setup["data"], setup["weights"], CLASSIFIER,
                           init_denoiser=str(start))
    assert tuned["steps"] == 4
    moved = parameters_of(tmp_path / "tuned" / "denoiser.safetensors")
    assert any(not torch.equal(before[k], moved[k]) for k in before)


def test_refuses_an_architecture_the_config_does_not_build(setup, tmp_path):  # noqa: F811
    train_denoiser(ONE_EPOCH, tmp_path / "first", setup["data"], setup["weights"], CLASSIFIER)
    wider = dataclasses.replace(ONE_EPOCH, denoiser_width=8)
    with pytest.raises(ValueError, match="set denoiser_width"):
        train_denoiser(wider, tmp_path / "x", setup["data"], setup["weights"], CLASSIFIER,
                       init_denoiser=str(tmp_path / "first" / "denoiser.safetensors"))


def test_starts_from_a_released_denoiser_by_name(setup, tmp_path, monkeypatch, capsys):  # noqa: F811
    zoo = build_tiny_zoo(tmp_path / "zoo")  # a defended release whose DUNET has width 4, like TINY's
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    (tmp_path / "tiny.yaml").write_text(
        "dataset: cifar10\nepochs: 1\nbatch_size: 8\ndenoiser_width: 4\ndiscriminator_width: 4\n"
        "adversarial_source: online\ncafa_steps: 1\neval_examples: 0\nprecision: fp32\ncheck_md5: false\nlr: 0.0\n")
    (tmp_path / "classifier.yaml").write_text(CLASSIFIER_YAML)
    argv = ["finetune-denoiser", "--init", NAME, "--config", str(tmp_path / "tiny.yaml"),
            "--classifier-run", str(setup["run"]), "--classifier-config", str(tmp_path / "classifier.yaml"),
            "--data", str(setup["data"]), "--out", str(tmp_path / "ft")]
    assert training_main(argv) == 0
    released = {k: v for k, v in zoo.denoiser.state_dict().items() if "running" not in k and "num_batches" not in k}
    after = parameters_of(tmp_path / "ft" / "denoiser.safetensors")
    assert all(torch.equal(released[k], after[k]) for k in released)  # lr 0: still the released weights
    assert training_main(argv[:2] + ["resnet20_cifar10"] + argv[3:-1] + [str(tmp_path / "ft2")]) == 1
    assert "unknown model 'resnet20_cifar10'" in capsys.readouterr().err  # the tiny manifest lists one release
