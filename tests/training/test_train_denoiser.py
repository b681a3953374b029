"""train-denoiser: the discriminator, the RaGAN and L_caf losses, and tiny end-to-end runs (online and
offline CAFA, kill + resume, the frozen classifier, the command line, configs)."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from cafd_zoo.data import load_cifar10
from cafd_zoo.models import create_model
from cafd_zoo.models.denoiser import DUNET, purify
from training.denoiser import train as train_denoiser_module
from training.__main__ import main as training_main
from training.crafting.shard_files import to_uint8, write_provenance, write_shard
from training.classifier.config import ClassifierConfig
from training.denoiser.config import DenoiserConfig
from training.denoiser.config_file import load_denoiser_config
from training.denoiser.losses import ClassActivationFeatureLoss, ragan_discriminator_loss, ragan_generator_loss
from cafd_zoo.metrics_log import read_metrics
from training.denoiser.purification_probe import evaluate_purification
from training.classifier.train import build_classifier
from training.denoiser.train import train_denoiser
from training.engine.lr_schedule import Schedule

from ..cifar_files import write_binary_cifar

REPO = Path(__file__).resolve().parents[2]
CLASSIFIER = ClassifierConfig(architecture="resnet20", dataset="cifar10", epochs=1, check_md5=False, precision="fp32")
CLASSIFIER_YAML = "architecture: resnet20\ndataset: cifar10\nepochs: 1\ncheck_md5: false\nprecision: fp32\n"
TINY = DenoiserConfig(dataset="cifar10", epochs=2, batch_size=8, denoiser_width=4, discriminator_width=4,
                      adversarial_source="online", cafa_steps=2, eval_examples=4, eval_cafa_steps=1,
                      eval_batch_size=4, precision="fp32", checkpoint_every=1000, log_every=1, check_md5=False)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


@pytest.fixture
def setup(tmp_path) -> dict[str, Path]:
    """30 synthetic CIFAR training images, a random ResNet-20 run folder and 2 offline CAFA shards."""
    data = tmp_path / "data"
    write_binary_cifar(data / "cifar-10-batches-bin", n_per_batch=6)
    run = tmp_path / "classifier"
    run.mkdir()
    torch.manual_seed(0)
    save_file(build_classifier(CLASSIFIER).state_dict(), str(run / "model.safetensors"))
    (run / "config.yaml").write_text(CLASSIFIER_YAML)
    shards = tmp_path / "cafa"
    write_provenance(shards, {"dataset": "cifar10", "num_shards": 2})
    train = load_cifar10(data, "train", check_md5=False)
    noise = torch.Generator().manual_seed(1)
    for k, indices in enumerate(torch.arange(30).split(15)):
        x, _ = train.batch(indices)
        write_shard(shards, k, to_uint8(x + (torch.rand(x.shape, generator=noise) - 0.5) * 16 / 255), indices)
    return {"data": data, "run": run, "weights": run / "model.safetensors", "cafa": shards}


# --- discriminator --------------------------------------------------------------------------------

def test_discriminator_has_the_official_size_and_one_logit_per_image():
    from cafd_zoo.models.discriminator import VGGDiscriminator  # here: importing it registers vgg_discriminator

    torch.manual_seed(0)
    d = create_model("vgg_discriminator")
    assert isinstance(d, VGGDiscriminator)
    assert sum(p.numel() for p in d.parameters()) == 899_465
    assert d(torch.rand(3, 3, 32, 32)).shape == (3, 1)
    with pytest.raises(ValueError, match="32x32"):
        d(torch.rand(2, 3, 64, 64))


# --- losses ---------------------------------------------------------------------------------------

def _softplus(v: float) -> float:
    return math.log1p(math.exp(v))  # -log sigmoid(-v)


def test_ragan_losses_equal_hand_computed_values():
    d_real, d_fake = torch.tensor([[1.0], [-0.5]]), torch.tensor([[0.2], [0.4]])
    mean_real, mean_fake = 0.25, 0.3
    # official: 1/2 [BCE(D(x) - mean D(x^), real) + BCE(D(x^) - mean D(x), fake)], BCE(z, 1) = softplus(-z)
    d_official = 0.5 * (sum(_softplus(-(r - mean_fake)) for r in (1.0, -0.5)) / 2
                        + sum(_softplus(f - mean_real) for f in (0.2, 0.4)) / 2)
    g_official = 0.5 * (sum(_softplus(r - mean_fake) for r in (1.0, -0.5)) / 2
                        + sum(_softplus(-(f - mean_real)) for f in (0.2, 0.4)) / 2)
    # paper Eqs. 8-9: -log sigmoid(D(x) - D(x^)) and -log sigmoid(D(x^) - D(x)), per pair, batch mean
    d_paper = (_softplus(-(1.0 - 0.2)) + _softplus(-(-0.5 - 0.4))) / 2
    g_paper = (_softplus(-(0.2 - 1.0)) + _softplus(-(0.4 + 0.5))) / 2
    assert ragan_discriminator_loss(d_real, d_fake, "official").item() == pytest.approx(d_official, rel=1e-6)
    assert ragan_generator_loss(d_real, d_fake, "official").item() == pytest.approx(g_official, rel=1e-6)
    assert ragan_discriminator_loss(d_real, d_fake, "paper").item() == pytest.approx(d_paper, rel=1e-6)
    assert ragan_generator_loss(d_real, d_fake, "paper").item() == pytest.approx(g_paper, rel=1e-6)
    with pytest.raises(ValueError, match="RaGAN form"):
        ragan_generator_loss(d_real, d_fake, "wgan")  # type: ignore[arg-type]


def _gradient_to(term: torch.Tensor, module: torch.nn.Module) -> float:
    """Total absolute gradient ``term`` sends to ``module``'s parameters (0 if it has no graph)."""
    if not term.requires_grad:
        return 0.0
    grads = torch.autograd.grad(term, list(module.parameters()), allow_unused=True, retain_graph=True)
    return float(sum(g.abs().sum() for g in grads if g is not None))


def test_eq7_official_w_term_gives_no_gradient_and_the_differentiable_one_does(tiny_net, images):
    tiny_net.requires_grad_(False)
    torch.manual_seed(0)
    denoiser = DUNET(width=4)
    x_adv = (images + 0.03).clamp(0, 1)
    official = ClassActivationFeatureLoss(tiny_net, "eq7_official")(purify(denoiser, x_adv), images)
    differentiable = ClassActivationFeatureLoss(tiny_net, "eq7_differentiable")(purify(denoiser, x_adv), images)
    assert official.class_weights.item() >= 0 and _gradient_to(official.class_weights, denoiser) == 0.0
    assert _gradient_to(differentiable.class_weights, denoiser) > 0
    assert _gradient_to(official.feature, denoiser) > 0
    assert torch.equal(official.feature, differentiable.feature)


def test_caf_distances_equal_their_literal_upsampled_definitions(tiny_net, images):
    tiny_net.requires_grad_(False)
    purified = (images + 0.05 * torch.randn_like(images)).clamp(0, 1)

    def up(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(t.float(), size=(32, 32), mode="bilinear", align_corners=False)

    def normalized(phi: torch.Tensor) -> torch.Tensor:
        phi = phi.relu()
        lo, hi = phi.amin(dim=(1, 2, 3), keepdim=True), phi.amax(dim=(1, 2, 3), keepdim=True)
        return (phi - lo) / (hi - lo)

    logits_p, logits_n = tiny_net(purified), tiny_net(images)
    f_p, f_n = tiny_net.forward_features(purified), tiny_net.forward_features(images)
    w = tiny_net.fc.weight
    w_p, w_n = w[logits_p.argmax(1)], w[logits_n.argmax(1)]
    phi_p, phi_n = f_p * w_p[:, :, None, None], f_n * w_n[:, :, None, None]

    eq6 = ClassActivationFeatureLoss(tiny_net, "eq6")(purified, images)
    literal_eq6 = F.mse_loss(up(normalized(phi_p)), up(normalized(phi_n)))
    assert eq6.feature.item() == pytest.approx(literal_eq6.item(), rel=1e-4)
    eq7 = ClassActivationFeatureLoss(tiny_net, "eq7_official")(purified, images)
    assert eq7.feature.item() == pytest.approx(F.mse_loss(up(f_p), up(f_n)).item(), rel=1e-4)
    assert eq7.class_weights.item() == pytest.approx(F.mse_loss(w_p, w_n).item(), rel=1e-5)
    assert torch.equal(eq7.purified_logits, logits_p)
    pixel = ClassActivationFeatureLoss(tiny_net, "pixel_mse")(purified, images)
    assert pixel.feature.item() == pytest.approx(F.mse_loss(purified, images).item()) and pixel.purified_logits is None


def test_evaluate_purification_counts_each_view(tiny_net, images):
    torch.manual_seed(0)
    denoiser = DUNET(width=4)
    torch.nn.init.zeros_(denoiser.head.weight)
    torch.nn.init.zeros_(denoiser.head.bias)  # C(x) = 0: purifying changes nothing
    labels = tiny_net(images).argmax(1)
    x_adv = images.flip(0)
    expected_adv = float((tiny_net(x_adv).argmax(1) == labels).float().mean())
    accuracy = evaluate_purification(denoiser, tiny_net, images, x_adv, labels, batch_size=4)
    assert accuracy == pytest.approx({"natural": 1.0, "adversarial": expected_adv, "purified": expected_adv,
                                      "purified_natural": 1.0})


# --- training runs --------------------------------------------------------------------------------

def test_online_run_writes_the_denoiser_and_never_touches_the_classifier(setup, tmp_path, monkeypatch):
    loaded = []

    def capture(*args, **kwargs):
        loaded.append(load_frozen(*args, **kwargs))
        return loaded[-1]

    load_frozen = train_denoiser_module.load_frozen_classifier
    monkeypatch.setattr(train_denoiser_module, "load_frozen_classifier", capture)
    result = train_denoiser(TINY, tmp_path / "run", setup["data"], setup["weights"], CLASSIFIER)
    assert result["steps"] == 2 * 4 and result["training_pairs"] == 30
    assert set(result["probe_accuracy"]) == {"natural", "adversarial", "purified", "purified_natural"}
    weights = load_file(str(tmp_path / "run" / "denoiser.safetensors"))
    DUNET(width=4).load_state_dict(weights, strict=True)
    (classifier,) = loaded
    on_disk = load_file(str(setup["weights"]))
    assert all(torch.equal(tensor, on_disk[name]) for name, tensor in classifier.state_dict().items())
    assert all(p.grad is None and not p.requires_grad for p in classifier.parameters())
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 9))
    assert all(r["loss_d"] > 0 and r["loss_adv"] > 0 and r["caf_feature"] > 0 for r in records if "loss" in r)
    assert [r["epoch"] for r in records if "probe_purified" in r] == [1, 2]


def test_a_held_out_probe_never_trains_on_its_images_nor_looks_at_the_test_set(setup, tmp_path, monkeypatch):
    """probe_split train_holdout: the last eval_examples training pairs are judged each epoch (their stored CAFA
    copies and a PGD attack crafted once against the bare classifier) and never reach a training batch."""
    config = dataclasses.replace(TINY, adversarial_source="offline", probe_split="train_holdout", eval_examples=6,
                                 probe_pgd_steps=2, batch_size=6)
    seen: list[torch.Tensor] = []
    batch = train_denoiser_module.TrainingPairs.batch

    def record(self, positions):
        seen.append(self.indices[positions])
        return batch(self, positions)

    monkeypatch.setattr(train_denoiser_module.TrainingPairs, "batch", record)
    monkeypatch.setattr("training.denoiser.purification_probe.load_dataset",
                        lambda *a, **k: pytest.fail("the test set was read"))
    result = train_denoiser(config, tmp_path / "run", setup["data"], setup["weights"], CLASSIFIER,
                            cafa_dir=setup["cafa"])
    assert result["training_pairs"] == 24 and result["probe_examples"] == 6 and result["probe_split"] == "train_holdout"
    probe_reads, train_reads = seen[0], torch.cat(seen[1:])  # the probe is built before the first step
    assert sorted(probe_reads.tolist()) == list(range(24, 30)) and int(train_reads.max()) < 24
    assert ({"natural", "purified", "pgd_adversarial", "pgd_purified", "pgd_purified_natural"}
            <= set(result["probe_accuracy"]))
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["epoch"] for r in records if "probe_pgd_purified" in r] == [1, 2]
    with pytest.raises(ValueError, match="held-out probe of 30 pairs"):
        train_denoiser(dataclasses.replace(config, eval_examples=30), tmp_path / "bad", setup["data"], setup["weights"],
                       CLASSIFIER, cafa_dir=setup["cafa"])


def test_offline_run_killed_and_resumed_ends_bit_identical(setup, tmp_path):
    config = dataclasses.replace(TINY, adversarial_source="offline", reset_optimizers_each_epoch=True, caf_loss="eq6",
                                 eval_examples=0)
    config_file = tmp_path / "tiny_denoiser.yaml"
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "schedule"}
    config_file.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    assert load_denoiser_config(config_file) == config
    args = ["train-denoiser", "--config", str(config_file), "--classifier-run", str(setup["run"]),
            "--classifier-config", str(setup["run"] / "config.yaml"), "--cafa-dir", str(setup["cafa"]),
            "--data", str(setup["data"])]
    assert training_main([*args, "--out", str(tmp_path / "whole")]) == 0
    stopped = train_denoiser(config, tmp_path / "killed", setup["data"], setup["weights"], CLASSIFIER,
                             cafa_dir=setup["cafa"], stop_after_steps=5)  # mid-epoch 2, after an Adam reset
    assert stopped == {"stopped_at_step": 5}
    result = train_denoiser(config, tmp_path / "killed", setup["data"], setup["weights"], CLASSIFIER,
                            cafa_dir=setup["cafa"], resume=True)
    assert result["steps"] == 8
    whole, resumed = (load_file(str(tmp_path / d / "denoiser.safetensors")) for d in ("whole", "killed"))
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)
    losses = [r["step"] for r in read_metrics(tmp_path / "killed" / "metrics.jsonl") if "loss" in r]
    assert losses == list(range(1, 9))
    with pytest.raises(ValueError, match="another config"):
        train_denoiser(dataclasses.replace(config, lr=0.1), tmp_path / "killed", setup["data"], setup["weights"],
                       CLASSIFIER, cafa_dir=setup["cafa"], resume=True)


def test_a_finished_run_trained_for_more_epochs_is_the_longer_run(setup, tmp_path, capsys):
    # The paper's release: its probe still improved at the planned last epoch, so the run goes on (epochs raised).
    config = dataclasses.replace(TINY, adversarial_source="offline", caf_loss="eq6", eval_examples=0,
                                 schedule=Schedule(kind="multistep", milestones=(1,), gamma=0.5))
    run = dict(cafa_dir=setup["cafa"])
    longer = train_denoiser(config, tmp_path / "straight", setup["data"], setup["weights"], CLASSIFIER, **run)
    short = dataclasses.replace(config, epochs=1)
    train_denoiser(short, tmp_path / "extended", setup["data"], setup["weights"], CLASSIFIER, **run)
    result = train_denoiser(config, tmp_path / "extended", setup["data"], setup["weights"], CLASSIFIER, resume=True,
                            **run)
    assert "from 1 to 2 epochs" in capsys.readouterr().out
    assert result["steps"] == longer["steps"] == 8 and result["epochs"] == 2
    straight, extended = (load_file(str(tmp_path / d / "denoiser.safetensors")) for d in ("straight", "extended"))
    assert all(torch.equal(straight[k], extended[k]) for k in straight)
    with pytest.raises(ValueError, match="another config"):  # fewer epochs is another run
        train_denoiser(short, tmp_path / "extended", setup["data"], setup["weights"], CLASSIFIER, resume=True, **run)
    onecycle = dataclasses.replace(short, schedule=Schedule(kind="onecycle", warmup=0.2))
    train_denoiser(onecycle, tmp_path / "onecycle", setup["data"], setup["weights"], CLASSIFIER, **run)
    with pytest.raises(ValueError, match="depend on the run's length"):
        train_denoiser(dataclasses.replace(onecycle, epochs=2), tmp_path / "onecycle", setup["data"], setup["weights"],
                       CLASSIFIER, resume=True, **run)


def test_bad_configs_and_missing_inputs_give_clear_errors(setup, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: cifar10\nlambda1: 1000\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*unknown key\(s\) \['lambda1'\]"):
        load_denoiser_config(bad)
    bad.write_text("dataset: cifar10\ncaf_loss: eq5\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*caf_loss must be one of"):
        load_denoiser_config(bad)
    with pytest.raises(ValueError, match="nothing to learn"):
        DenoiserConfig(dataset="cifar10", lambda_caf=0, lambda_class_weights=0, lambda_adv=0)
    with pytest.raises(ValueError, match="craft-cafa"):
        train_denoiser(dataclasses.replace(TINY, adversarial_source="offline"), tmp_path / "run", setup["data"],
                       setup["weights"], CLASSIFIER)
    shipped = sorted((REPO / "training" / "configs" / "denoiser").glob("*.yaml"))
    configs = {path.stem: load_denoiser_config(path) for path in shipped}  # every shipped config loads
    # CAFD ones (2 for issue 14), ablations, the gray-box surrogate, HGD('), APE-G('), a fine-tuning
    assert len(configs) >= 19
    finetune, cpu = configs["cafd_denoiser_finetune_cifar10"], configs["cafd_denoiser_vgg19_cifar10_cpu"]
    budget = {"epochs": finetune.epochs, "lr": finetune.lr, "schedule": finetune.schedule}
    assert finetune == dataclasses.replace(cpu, **budget)  # the released recipe, fine-tuned: only the budget differs
    compact = configs["cafd_denoiser_resnet20_cifar10_compact"]
    assert compact.denoiser_width == 16 and compact.adversarial_source == "offline"
    ablations = {"msed": {"caf_loss": "pixel_mse"}, "no_adv": {"lambda_adv": 0.0},
                 "no_caf": {"lambda_caf": 0.0, "lambda_class_weights": 0.0}}
    for name, changes in ablations.items():  # each ablation differs from the release's recipe in its loss only
        assert configs[f"ablation_{name}_resnet20_cifar10_compact"] == dataclasses.replace(compact, **changes)
    official = configs["cafd_denoiser_vgg19_cifar10"]
    assert (official.caf_loss, official.gan_loss) == ("eq7_official", "official")
    assert official.adversarial_source == "offline" and not official.reset_optimizers_each_epoch
    assert (official.epochs, official.batch_size, official.lambda_caf, official.lambda_adv) == (70, 300, 1e3, 5e-3)
    assert configs["cafd_denoiser_vgg19_svhn"].lambda_caf == 1e2
    assert configs["ablation_no_adv_vgg19_cifar10"].lambda_adv == 0
    assert configs["ablation_no_caf_vgg19_cifar10"].lambda_caf == 0
    assert configs["ablation_msed_vgg19_cifar10"].caf_loss == "pixel_mse"
    assert configs["cafd_prime_denoiser_vgg19_cifar10"].caf_loss == "eq6"
    budget = {"epochs": 12, "batch_size": 128, "schedule": dataclasses.replace(official.schedule, milestones=(7, 9)),
              "probe_split": "train_holdout", "eval_examples": 1000, "probe_pgd_steps": 10}
    # network, losses, lambdas: official
    assert configs["cafd_denoiser_vgg19_cifar10_cpu"] == dataclasses.replace(official, **budget)


def test_torchrun_two_processes_agree(setup, tmp_path):
    config = tmp_path / "tiny_denoiser.yaml"
    config.write_text("dataset: cifar10\nepochs: 1\nbatch_size: 4\ndenoiser_width: 4\ndiscriminator_width: 4\n"
                      "eval_examples: 2\neval_cafa_steps: 1\nprecision: fp32\ncheck_md5: false\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    with socket.socket() as probe:  # torchrun's --master_port=0 hangs with the static rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={port}", "-m", "training", "train-denoiser", "--config", str(config), "--classifier-run",
         str(setup["run"]), "--classifier-config", str(setup["run"] / "config.yaml"), "--cafa-dir", str(setup["cafa"]),
         "--data", str(setup["data"]), "--out", str(tmp_path / "ddp")],
        env=env, capture_output=True, text=True, timeout=180, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "ddp" / "result.json").read_text())
    assert result["world_size"] == 2 and result["steps"] == 4  # 30 pairs padded to 32, 16 per rank, batch 4
    first, second = result["rank_fingerprints"]
    assert first == second  # C and D in DDP: both ranks ended with bit-identical denoisers
