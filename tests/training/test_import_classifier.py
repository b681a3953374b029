"""import-classifier and the fine-tuning path for a classifier trained elsewhere: your timm model's weights become a
run folder, the released denoiser is fine-tuned against it, and the result goes in front of it in one line."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import cafd_zoo
from cafd_zoo.models.normalization import CIFAR10_MEAN, CIFAR10_STD
from training.__main__ import main as training_main
from training.classifier.config import load_config
from training.classifier.import_weights import import_classifier, low_accuracy_warning
from training.classifier.trained import classifier_weights, load_trained_classifier
from training.denoiser.train import train_denoiser

from .test_train_denoiser import CLASSIFIER, TINY, setup  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest

TIMM = "timm:test_resnet"
REPO = Path(__file__).resolve().parents[2]


def tiny_finetune_config(path: Path, adversarial_source: str, *more: str) -> Path:
    """A one-epoch width-4 fine-tuning config for the synthetic data of ``setup``."""
    path.write_text("\n".join(["dataset: cifar10", "epochs: 1", "batch_size: 8", "denoiser_width: 4",
                               "discriminator_width: 4", f"adversarial_source: {adversarial_source}", *more,
                               "eval_examples: 0", "precision: fp32", "check_md5: false"]) + "\n")
    return path


@pytest.fixture
def timm_weights(tmp_path):
    """A timm model trained elsewhere, on normalised CIFAR-10 images: its own state dict, its own keys."""
    torch.manual_seed(0)
    model = cafd_zoo.create_model(TIMM, num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD).eval()
    save_file(model.net.state_dict(), str(tmp_path / "mine.safetensors"))
    return model, tmp_path / "mine.safetensors"


def test_an_imported_timm_classifier_is_a_run_folder_that_computes_what_the_original_did(timm_weights, tmp_path):
    original, weights = timm_weights
    record = import_classifier(TIMM, weights, tmp_path / "run", mean=CIFAR10_MEAN, std=CIFAR10_STD)
    config = load_config(tmp_path / "run" / "config.yaml")
    assert (config.architecture, config.mean, config.std) == (TIMM, CIFAR10_MEAN, CIFAR10_STD)
    loaded = load_trained_classifier(classifier_weights(tmp_path / "run"), config, torch.device("cpu"))
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), original(x))
    written = json.loads((tmp_path / "run" / "imported.json").read_text())
    assert written["source_sha256"] == cafd_zoo.integrity.sha256_of(weights) == record["source_sha256"]
    assert written["embedded_sample_n"] == 1000 and 0 <= written["embedded_sample_accuracy"] <= 1


def test_a_near_chance_import_says_what_to_check():
    assert "give its --mean and --std" in low_accuracy_warning({"embedded_sample_accuracy": 0.11})
    assert low_accuracy_warning({"embedded_sample_accuracy": 0.93}) is None
    assert low_accuracy_warning({}) is None  # not a CIFAR-10 model: nothing measured, nothing said


def test_zoo_keys_with_a_training_prefix_import_once_the_prefix_is_stripped(tmp_path):
    torch.manual_seed(1)
    model = cafd_zoo.create_model("resnet20", num_classes=10).eval()
    save_file({f"module.{k}": v for k, v in model.state_dict().items()}, str(tmp_path / "ddp.safetensors"))
    with pytest.raises(ValueError, match="missing key.*--strip-prefix"):
        import_classifier("resnet20", tmp_path / "ddp.safetensors", tmp_path / "a")
    assert not (tmp_path / "a").exists()  # a refused import writes nothing
    import_classifier("resnet20", tmp_path / "ddp.safetensors", tmp_path / "b", strip_prefix="module.")
    x = torch.rand(2, 3, 32, 32)
    loaded = load_trained_classifier(tmp_path / "b" / "model.safetensors", load_config(tmp_path / "b" / "config.yaml"),
                                     torch.device("cpu"))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_what_cannot_be_imported_is_refused_with_what_to_do(timm_weights, tmp_path):
    _, weights = timm_weights
    (tmp_path / "mine.pth").write_bytes(b"not opened")
    with pytest.raises(ValueError, match="safetensors files only.*save_file"):
        import_classifier(TIMM, tmp_path / "mine.pth", tmp_path / "x")
    (tmp_path / "damaged.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        import_classifier(TIMM, tmp_path / "damaged.safetensors", tmp_path / "x")
    with pytest.raises(ValueError, match="fc.bias is \\(10,\\), the model's is \\(100,\\).*--num-classes"):
        import_classifier(TIMM, weights, tmp_path / "x", num_classes=100)
    with pytest.raises(ValueError, match="unknown architecture 'vgg1000': a zoo classifier \\(.*vgg19.*\\) or timm:"):
        import_classifier("vgg1000", weights, tmp_path / "x")
    with pytest.raises(ValueError, match="unknown architecture 'timm:resnet_zz'"):
        import_classifier("timm:resnet_zz", weights, tmp_path / "x")
    with pytest.raises(ValueError, match="not a classifier 'dunet': a zoo classifier \\((?!.*dunet).*vgg19"):
        import_classifier("dunet", weights, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    import_classifier(TIMM, weights, tmp_path / "done")
    before = (tmp_path / "done" / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="exists already.*nothing was changed"):
        import_classifier("resnet20", weights, tmp_path / "done")
    assert (tmp_path / "done" / "model.safetensors").read_bytes() == before


def test_the_worked_example_import_finetune_and_defend(setup, timm_weights, tmp_path, capsys):  # noqa: F811
    """The README's path for your own model: import it, fine-tune a denoiser against it, put that in front of it."""
    _, weights = timm_weights
    run = tmp_path / "mine"
    argv = ["import-classifier", "--architecture", TIMM, "--weights", str(weights), "--out", str(run),
            "--mean", *map(str, CIFAR10_MEAN), "--std", *map(str, CIFAR10_STD)]
    assert training_main(argv) == 0
    out, err = capsys.readouterr()
    assert f"--classifier-run {run} --classifier-config {run}/config.yaml" in out
    assert "accuracy on the first 1,000 CIFAR-10 test images" in out and "--mean and --std" in err  # random weights
    train_denoiser(dataclasses.replace(TINY, epochs=1), tmp_path / "start", setup["data"], setup["weights"], CLASSIFIER)
    tiny_finetune_config(tmp_path / "tiny.yaml", "online", "cafa_steps: 1")
    assert training_main(["finetune-denoiser", "--init", str(tmp_path / "start" / "denoiser.safetensors"),
                          "--config", str(tmp_path / "tiny.yaml"), "--classifier-run", str(run),
                          "--classifier-config", str(run / "config.yaml"), "--data", str(setup["data"]),
                          "--out", str(tmp_path / "ft")]) == 0
    classifier = cafd_zoo.create_model(TIMM, num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD)  # as the README does
    classifier.load_state_dict(load_file(str(run / "model.safetensors")))
    model = cafd_zoo.DefendedClassifier(cafd_zoo.load_denoiser(tmp_path / "ft" / "denoiser.safetensors"),
                                        classifier).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), classifier(model.purify(x)))


def test_the_finetune_recipe_runs_end_to_end_on_an_imported_classifier(setup, timm_weights, tmp_path):  # noqa: F811
    """training/recipes/finetune_denoiser.sh, every step for real on tiny data: CAFA copy, fine-tuning, the
    before/after table (what a user runs after import-classifier, at a size that fits the test suite)."""
    _, weights = timm_weights
    import_classifier(TIMM, weights, tmp_path / "runs" / "mine", mean=CIFAR10_MEAN, std=CIFAR10_STD)
    with (tmp_path / "runs" / "mine" / "config.yaml").open("a") as config:
        config.write("check_md5: false\n")  # synthetic CIFAR-10 files
    train_denoiser(dataclasses.replace(TINY, epochs=1), tmp_path / "start", setup["data"], setup["weights"], CLASSIFIER)
    tiny_finetune_config(tmp_path / "tiny.yaml", "offline")
    env = {**os.environ, "PY": sys.executable, "DATA": str(setup["data"]), "RUNS": str(tmp_path / "runs"),
           "CLASSIFIER_RUN": str(tmp_path / "runs" / "mine"), "INIT": str(tmp_path / "start" / "denoiser.safetensors"),
           "FINETUNE_CONFIG": str(tmp_path / "tiny.yaml"), "CAFA_STEPS": "1", "CAFA_LIMIT": "24", "N": "4"}
    done = subprocess.run(["bash", "training/recipes/finetune_denoiser.sh"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "runs" / "cafd_denoiser_mine_finetune" / "denoiser.safetensors").is_file()
    rows = [json.loads(line) for line in (tmp_path / "runs" / "eval_finetune_mine" / "before_after.jsonl").open()]
    measured = {(r["release"], r["threat_model"], r["attack"]) for r in rows}
    for label in ("transfer_mine", "finetuned_mine"):
        assert {(label, t, "pgd_n") for t in ("bare", "oblivious", "whitebox")} <= measured
        assert label in done.stdout  # both tables printed
