"""train-denoiser with ``adversarial_source: adaptive`` (issue 14): PGD through denoiser + classifier for every
batch, the cross-entropy term, the white-box probe, its configs, and that the paper's paths are unchanged."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from cafd_zoo.attacks import pgd
from cafd_zoo.metrics_log import read_metrics
from cafd_zoo.models import DefendedClassifier
from cafd_zoo.models.denoiser import DUNET
from training.__main__ import main as training_main
from training.classifier.adversarial_training import PGDTraining
from training.classifier.config import config_dict, load_config
from training.denoiser.adaptive_attack import adaptive_batch, clean_count, defended_model
from training.denoiser.baseline_config import BaselineDenoiserConfig
from training.denoiser.config import DenoiserConfig
from training.denoiser.config_file import load_denoiser_config
from training.denoiser.losses import ClassActivationFeatureLoss
from training.denoiser.purification_probe import whitebox_pgd_accuracy
from training.denoiser.train import build_discriminator, train_denoiser, train_step

from .test_train_denoiser import CLASSIFIER, TINY, setup  # noqa: F401  (setup: the tiny data + classifier fixture)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "training" / "configs"
ADAPTIVE = dataclasses.replace(TINY, adversarial_source="adaptive", cafa_steps=None, adaptive_steps=2,
                               adaptive_clean_fraction=0.25, lambda_ce=1.0, probe_whitebox_pgd_steps=1)
EPS = 8 / 255

pytestmark = pytest.mark.usefixtures("one_thread")


def _yaml(config: DenoiserConfig, path: Path) -> Path:
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "schedule"}
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return path


# --- configuration --------------------------------------------------------------------------------

def test_bad_adaptive_settings_are_named_with_their_fix(tmp_path):
    bad = tmp_path / "bad.yaml"
    mistakes = {
        "adversarial_source: adaptive\nadaptive_eps: 8/255\n": "adaptive_eps must be a number.*YAML has no fractions",
        "adversarial_source: adaptive\nadaptive_eps: 8\n": r"adaptive_eps must be in \(0, 1\]",
        "adversarial_source: adaptive\nadaptive_steps: 0\n": "adaptive_steps must be an integer >= 1, got 0",
        "adversarial_source: adaptive\nadaptive_step_size: 2/255\n": "adaptive_step_size must be a number.*0.0313",
        "adversarial_source: adaptive\nadaptive_random_start: 1\n": "adaptive_random_start must be true or false",
        "adversarial_source: adaptive\nadaptive_clean_fraction: 1.0\n": r"adaptive_clean_fraction must be in \[0, 1\)",
        "adversarial_source: online\nadaptive_steps: 3\n": "adaptive_steps set, but adversarial_source is 'online'",
        "lambda_ce: -1\n": "lambda_ce must be >= 0",
        "probe_whitebox_pgd_steps: 0\n": "probe_whitebox_pgd_steps must be >= 1 or null",
        "adversarial_source: whitebox\n": r"adversarial_source must be one of \['offline', 'online', 'adaptive'\]",
    }
    for text, message in mistakes.items():
        bad.write_text("dataset: cifar10\n" + text)
        with pytest.raises(ValueError, match=message) as caught:
            load_denoiser_config(bad)
        assert str(bad) in str(caught.value)
    # the cross-entropy alone is something to learn from; nothing at all is not
    only_ce = DenoiserConfig(dataset="cifar10", lambda_caf=0, lambda_class_weights=0, lambda_adv=0, lambda_ce=1)
    assert only_ce.lambda_ce == 1
    with pytest.raises(ValueError, match="lambda_adv, lambda_ce and every L_caf weight are 0"):
        DenoiserConfig(dataset="cifar10", lambda_caf=0, lambda_class_weights=0, lambda_adv=0)
    with pytest.raises(ValueError, match="lambda_ce is not a setting of method hgd"):
        BaselineDenoiserConfig(dataset="cifar10", lambda_ce=1.0)
    assert ADAPTIVE.adaptive_attack == PGDTraining(eps=EPS, steps=2, step_size=2 / 255, random_start=True)


def test_records_of_earlier_runs_still_match_and_adaptive_ones_say_what_differs():
    """The new fields stay out of config_dict at their defaults: old checkpoints resume, old results export."""
    new = ("lambda_ce", "adaptive_eps", "adaptive_steps", "adaptive_step_size", "adaptive_random_start",
           "adaptive_clean_fraction", "probe_whitebox_pgd_steps")
    official = load_denoiser_config(CONFIGS / "denoiser" / "cafd_denoiser_vgg19_cifar10.yaml")
    for config in (TINY, DenoiserConfig(dataset="svhn"), official):
        assert not set(new) & set(config_dict(config))
    recorded = config_dict(ADAPTIVE)
    assert recorded["adversarial_source"] == "adaptive" and recorded["lambda_ce"] == 1.0
    assert recorded["adaptive_steps"] == 2 and "adaptive_eps" not in recorded  # at its default: the result has it


def test_shipped_issue14_configs_are_the_recipes_they_say():
    for arch in ("resnet20", "wrn16_4"):  # the recipe's ARCH choices: the same fast adversarial training
        classifier = load_config(CONFIGS / f"{arch}_cifar10_fastat.yaml")
        assert classifier.architecture == arch and classifier.label_smoothing == 0 and 15 <= classifier.epochs <= 20
        assert classifier.schedule.kind == "onecycle"
        assert classifier.adversarial == PGDTraining(eps=EPS, steps=1, step_size=10 / 255, random_start=True)  # Wong
    paper = load_denoiser_config(CONFIGS / "denoiser" / "cafd_denoiser_at_cifar10_compact.yaml")
    adaptive = load_denoiser_config(CONFIGS / "denoiser" / "cafd_denoiser_at_cifar10_compact_adaptive.yaml")
    compact = load_denoiser_config(CONFIGS / "denoiser" / "cafd_denoiser_resnet20_cifar10_compact.yaml")
    probe = {"probe_split": "train_holdout", "probe_pgd_steps": 10, "probe_whitebox_pgd_steps": 10}
    assert paper == dataclasses.replace(compact, **probe)  # the compact release's recipe; only the probe differs
    assert adaptive.adversarial_source == "adaptive" and adaptive.lambda_ce > 0 and adaptive.adaptive_clean_fraction > 0
    paper_source = {"adversarial_source": "offline", "lambda_ce": 0.0, "adaptive_clean_fraction": 0.0}
    assert adaptive.epochs == 2 < paper.epochs  # (b) is (a) fine-tuned: finetune-denoiser --init (a)'s weights
    assert dataclasses.replace(adaptive, **paper_source, epochs=paper.epochs, schedule=paper.schedule) == paper


# --- crafting -------------------------------------------------------------------------------------

def test_crafting_touches_neither_network_nor_any_gradient(tiny_net, images):
    torch.manual_seed(0)
    denoiser = DUNET(width=4).train()
    classifier = tiny_net.requires_grad_(False)
    for p in denoiser.parameters():
        p.grad = torch.full_like(p, 0.5)  # a gradient being accumulated must come out as it went in

    def both() -> dict[str, torch.Tensor]:
        return {**denoiser.state_dict(), **{f"P.{k}": v for k, v in classifier.state_dict().items()}}

    before = {k: v.clone() for k, v in both().items()}
    labels = torch.arange(6) % 10
    config = dataclasses.replace(ADAPTIVE, adaptive_clean_fraction=0.34)
    defended = defended_model(denoiser, classifier, clamp=True)
    x = adaptive_batch(config, defended, images, labels, step=3, rank=0, precision="fp32")
    after = both()
    assert all(torch.equal(before[k], after[k]) for k in before)  # C's BN running statistics included
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in denoiser.parameters())
    assert all(p.grad is None and not p.requires_grad for p in classifier.parameters())
    assert denoiser.training and all(p.requires_grad for p in denoiser.parameters()) and not classifier.training
    keep = clean_count(config, 6)
    assert keep == 2 and torch.equal(x[:keep], images[:keep])  # the clean share, as it was
    moved = (x[keep:] - images[keep:]).abs()
    assert moved.max() <= EPS + 1e-6 and moved.max() > 0 and x.min() >= 0 and x.max() <= 1
    again = adaptive_batch(config, defended, images, labels, step=3, rank=0, precision="fp32")
    other = adaptive_batch(config, defended, images, labels, step=4, rank=0, precision="fp32")
    assert torch.equal(x, again) and not torch.equal(x, other)  # a function of (seed, step, rank)


def test_the_whitebox_probe_is_pgd_through_denoiser_and_classifier_and_leaves_them_as_found(tiny_net, images):
    torch.manual_seed(0)
    denoiser = DUNET(width=4).train()
    classifier = tiny_net.requires_grad_(False)
    state = {k: v.clone() for k, v in denoiser.state_dict().items()}
    labels = torch.tensor([4, 4, 4, 0, 1, 2])
    accuracy = whitebox_pgd_accuracy(denoiser, classifier, images, labels, 3, seed=7, batch_size=4)
    assert denoiser.training and all(torch.equal(state[k], v) for k, v in denoiser.state_dict().items())
    defended = DefendedClassifier(denoiser, classifier, input_size=None).eval()  # the same attack, spelt out
    generator = torch.Generator().manual_seed(7)
    attacked = [pgd(defended, x, y, eps=EPS, steps=3, step_size=2 / 255, generator=generator)
                for x, y in zip(images.split(4), labels.split(4))]
    with torch.no_grad():
        expected = float((defended(torch.cat(attacked)).argmax(1) == labels).float().mean())
    assert accuracy == expected and accuracy <= 0.5


# --- the cross-entropy term -----------------------------------------------------------------------

def _one_step(config: DenoiserConfig, classifier: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor | None):
    torch.manual_seed(0)
    denoiser, discriminator = DUNET(width=4), build_discriminator(config)
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in (denoiser, discriminator)]
    caf = ClassActivationFeatureLoss(classifier, config.caf_loss)  # type: ignore[arg-type]
    world = SimpleNamespace(device=torch.device("cpu"))
    x_adv = (images + 0.02).clamp(0, 1)
    losses = train_step(config, "fp32", world, denoiser, discriminator, discriminator, *optimizers, caf, images, x_adv,
                        labels=labels)
    return losses, denoiser.state_dict()


@pytest.mark.parametrize("caf_loss", ["eq7_official", "pixel_mse"])
def test_lambda_ce_adds_its_weighted_cross_entropy_and_changes_the_update(tiny_net, images, caf_loss):
    classifier = tiny_net.requires_grad_(False)
    labels = torch.arange(6) % 10
    base = dataclasses.replace(TINY, discriminator_width=4, caf_loss=caf_loss)
    without, weights_without = _one_step(base, classifier, images, labels)
    with_ce, weights_with = _one_step(dataclasses.replace(base, lambda_ce=2.0), classifier, images, labels)
    assert "ce" not in without and with_ce["ce"] > 0
    assert with_ce["loss"].item() == pytest.approx(without["loss"].item() + 2.0 * with_ce["ce"].item(), rel=1e-5)
    assert not all(torch.equal(weights_without[k], weights_with[k]) for k in weights_without)
    with pytest.raises(ValueError, match="needs the batch's labels"):
        _one_step(dataclasses.replace(base, lambda_ce=2.0), classifier, images, None)


# --- whole runs -----------------------------------------------------------------------------------

def test_adaptive_run_end_to_end_and_killed_and_resumed_bit_identical(setup, tmp_path, capsys):  # noqa: F811
    config_file = _yaml(ADAPTIVE, tmp_path / "adaptive.yaml")
    assert load_denoiser_config(config_file) == ADAPTIVE
    args = ["train-denoiser", "--config", str(config_file), "--classifier-run", str(setup["run"]),
            "--classifier-config", str(setup["run"] / "config.yaml"), "--data", str(setup["data"])]
    assert training_main([*args, "--out", str(tmp_path / "whole")]) == 0  # no --cafa-dir needed
    whole = tmp_path / "whole"
    written = {p.name for p in whole.iterdir()}
    assert written >= {"checkpoint.pt", "metrics.jsonl", "denoiser.safetensors", "result.json"}
    result = json.loads((whole / "result.json").read_text())
    assert result["steps"] == 8 and result["training_pairs"] == 30
    assert result["adaptive_attack"] == {"attack": "pgd", "eps": EPS, "steps": 2, "step_size": 2 / 255,
                                         "random_start": True, "clean_fraction": 0.25, "lambda_ce": 1.0}
    assert "whitebox_pgd_purified" in result["probe_accuracy"]
    records = read_metrics(whole / "metrics.jsonl")
    assert all(r["ce"] > 0 and r["caf_feature"] > 0 for r in records if "loss" in r)
    assert [r["epoch"] for r in records if "probe_whitebox_pgd_purified" in r] == [1, 2]

    assert training_main([*args, "--cafa-dir", str(setup["cafa"]), "--out", str(tmp_path / "refused")]) == 1
    assert "adaptive' crafts its examples for every batch" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()

    killed = tmp_path / "killed"  # mid-epoch 2, after the first epoch's probe
    inputs = (setup["data"], setup["weights"], CLASSIFIER)
    assert train_denoiser(ADAPTIVE, killed, *inputs, stop_after_steps=5) == {"stopped_at_step": 5}
    assert train_denoiser(ADAPTIVE, killed, *inputs, resume=True)["steps"] == 8
    first, resumed = (load_file(str(d / "denoiser.safetensors")) for d in (whole, killed))
    assert first.keys() == resumed.keys() and all(torch.equal(first[k], resumed[k]) for k in first)
    assert [r["step"] for r in read_metrics(killed / "metrics.jsonl") if "loss" in r] == list(range(1, 9))
