"""APE-G: the generator's range and residual interface, the networks' sizes, the losses against a hand
computation, one D step then two G steps, and a tiny run that resumes bit for bit and exports a release."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import cafd_zoo
from cafd_zoo.models import APEDiscriminator, APEGenerator, DefendedClassifier, create_model
from training.denoiser.ape_gan_losses import ape_discriminator_loss, ape_generator_loss
from training.denoiser.baseline_config import BaselineDenoiserConfig
from training.denoiser.baseline_steps import baseline_train_step
from training.engine.checkpoint import load_checkpoint
from training.classifier.config import load_config
from training.denoiser.config_file import load_denoiser_config
from cafd_zoo.metrics_log import read_metrics
from training.denoiser.initial_weights import load_initial_denoiser
from training.denoiser.train import train_denoiser

from .baseline_fixtures import build_chain, write_config

REPO = Path(__file__).resolve().parents[2]
APE_YAML = ("method: ape_g\ntraining_attack: pgd\ndataset: cifar10\nepochs: 2\nbatch_size: 8\ndenoiser_width: 4\n"
            "discriminator_width: 4\nlr: 2.0e-4\nadam_beta1: 0.5\neval_examples: 2\neval_cafa_steps: 1\n"
            "eval_batch_size: 2\nlog_every: 1\nprecision: fp32\ncheck_md5: false\n")


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


def test_generator_keeps_shape_and_range_and_purifies_to_its_own_image(tiny_net):
    torch.manual_seed(0)
    generator = create_model("ape_gan_generator", width=8)
    with torch.no_grad():
        for conv in (m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)):
            conv.weight.mul_(50)  # push the pre-activations far out: the sigmoid must still hold [0, 1]
    x = torch.cat([torch.rand(4, 3, 32, 32), torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32)])
    for mode in (generator.train, generator.eval):
        mode()
        with torch.no_grad():
            image = generator.generate(x)
        assert image.shape == x.shape and image.min() >= 0 and image.max() <= 1
    assert image.min() < 0.01 and image.max() > 0.99  # it really reaches both ends
    defended = DefendedClassifier(generator, tiny_net).eval()
    with torch.no_grad():
        assert torch.allclose(x + generator(x), image, atol=1e-6)  # forward is the residual G(x) - x
        assert torch.allclose(defended.purify(x), image, atol=1e-6)
        assert torch.allclose(defended(x), tiny_net(image), atol=1e-5)
    with pytest.raises(ValueError, match="divisible by 4"):
        generator(torch.rand(1, 3, 30, 30))


def test_networks_have_the_reference_layout_sizes():
    # G at width 64: conv 3->64 (3*64*16 + 64) + BN 128, conv 64->128 (64*128*16 + 128) + BN 256,
    # deconv 128->64 (128*64*16 + 64) + BN 128, deconv 64->3 (64*3*16 + 3)
    assert sum(p.numel() for p in APEGenerator().parameters()) == 3136 + 128 + 131_200 + 256 + 131_136 + 128 + 3075
    # D at width 64: conv 3->64 (3*64*9 + 64), conv 64->128 (64*128*9 + 128) + BN 256, conv 128->256 + BN 512,
    # linear 256*3*3 -> 1
    d = APEDiscriminator()
    assert sum(p.numel() for p in d.parameters()) == 1792 + 73_856 + 256 + 295_168 + 512 + 2305
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 1)
    with pytest.raises(ValueError, match="32x32"):
        d(torch.rand(2, 3, 64, 64))


def _softplus(v: float) -> float:
    return math.log1p(math.exp(v))  # -log sigmoid(-v) = -log(1 - sigmoid(v))


def test_losses_equal_the_formulas_by_hand():
    d_real, d_fake = torch.tensor([[1.0], [-0.5]]), torch.tensor([[0.2], [0.4]])
    # L_D = BCE(sigmoid(D(x)), 1) + BCE(sigmoid(D(G(x~))), 0), each a batch mean
    expected_d = (_softplus(-1.0) + _softplus(0.5)) / 2 + (_softplus(0.2) + _softplus(0.4)) / 2
    assert ape_discriminator_loss(d_real, d_fake).item() == pytest.approx(expected_d, rel=1e-6)
    generated = torch.tensor([0.1, 0.5, 0.9, 0.3]).reshape(1, 1, 2, 2)
    natural = torch.tensor([0.0, 0.5, 1.0, 0.7]).reshape(1, 1, 2, 2)
    mse = (0.1 ** 2 + 0 + 0.1 ** 2 + 0.4 ** 2) / 4
    bce = (_softplus(-0.2) + _softplus(-0.4)) / 2  # BCE(sigmoid(D(G(x~))), 1)
    loss, pixel, gan = ape_generator_loss(generated, natural, d_fake)
    assert (pixel.item(), gan.item()) == (pytest.approx(mse, rel=1e-6), pytest.approx(bce, rel=1e-6))
    assert loss.item() == pytest.approx(0.7 * mse + 0.3 * bce, rel=1e-6)
    assert ape_generator_loss(generated, natural, d_fake, lambda_pixel=1, lambda_adv=0)[0].item() == pytest.approx(mse)


@pytest.mark.parametrize("generator_steps", [2, 3])
def test_each_batch_is_one_discriminator_step_then_the_generator_steps(tiny_net, images, generator_steps):
    config = BaselineDenoiserConfig(dataset="cifar10", method="ape_g", generator_steps=generator_steps,
                                    denoiser_width=4, discriminator_width=4, adam_beta1=0.5, precision="fp32")
    torch.manual_seed(0)
    generator, discriminator = APEGenerator(width=4), APEDiscriminator(width=4)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=1e-3, betas=config.adam_betas)
                    for m in (generator, discriminator))
    x_adv = (images + 0.03).clamp(0, 1)
    losses = baseline_train_step(config, "fp32", torch.device("cpu"), generator, discriminator, discriminator, opt_g,
                                 opt_d, tiny_net, images, x_adv)
    assert {int(s["step"]) for s in opt_g.state.values()} == {generator_steps}
    assert {int(s["step"]) for s in opt_d.state.values()} == {1}
    assert set(losses) == {"loss", "loss_d", "pixel_mse", "loss_gan"}
    assert all(p.requires_grad for p in discriminator.parameters())  # frozen only during G's steps
    assert losses["loss"].item() == pytest.approx(0.7 * losses["pixel_mse"].item() + 0.3 * losses["loss_gan"].item())


def test_configs_carry_the_reference_recipe():
    shipped = {p.stem: load_denoiser_config(p) for p in (REPO / "training" / "configs" / "denoiser").glob("apeg*.yaml")}
    assert set(shipped) == {"apeg_vgg19_cifar10", "apeg_prime_vgg19_cifar10"}
    apeg = shipped["apeg_vgg19_cifar10"]
    assert (apeg.method, apeg.training_attack) == ("ape_g", "cw_l2")
    assert shipped["apeg_prime_vgg19_cifar10"].training_attack == "pgd"
    assert (apeg.lr, apeg.adam_betas, apeg.batch_size, apeg.epochs) == (2e-4, (0.5, 0.999), 128, 2)
    assert (apeg.lambda_pixel, apeg.lambda_gan, apeg.generator_steps) == (0.7, 0.3, 2)
    assert (apeg.schedule.milestones, apeg.weight_decay, apeg.discriminator_width) == ((), 0, 64)


def test_tiny_ape_gan_run_resumes_bit_identically_and_exports_a_release_that_loads(tmp_path, monkeypatch):
    chain = build_chain(tmp_path, monkeypatch)
    shards = chain.craft("pgd", "--steps", "1")
    config_file = write_config(tmp_path / "apeg.yaml", APE_YAML)
    whole = chain.train(config_file, shards, "whole")
    records = read_metrics(whole / "metrics.jsonl")
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 7))
    assert all(r["loss_d"] > 0 and r["pixel_mse"] > 0 and r["loss_gan"] > 0 for r in records if "loss" in r)
    assert [r["epoch"] for r in records if "probe_purified" in r] == [1, 2]

    config, classifier = load_denoiser_config(config_file), load_config(chain.classifier_yaml)
    weights = cafd_zoo.hub.download("tiny_r20")["classifier"]
    assert train_denoiser(config, tmp_path / "killed", chain.data, weights, classifier, cafa_dir=shards,
                          stop_after_steps=4) == {"stopped_at_step": 4}
    result = train_denoiser(config, tmp_path / "killed", chain.data, weights, classifier, cafa_dir=shards, resume=True)
    assert result["steps"] == 6
    first, resumed = (load_file(str(tmp_path / d / "denoiser.safetensors")) for d in ("whole", "killed"))
    assert first.keys() == resumed.keys() and all(torch.equal(first[k], resumed[k]) for k in first)
    state = load_checkpoint(whole / "checkpoint.pt")["components"]
    assert {int(s["step"]) for s in state["denoiser_optimizer"]["state"].values()} == {12}  # 2 G steps x 6 batches
    assert {int(s["step"]) for s in state["discriminator_optimizer"]["state"].values()} == {6}

    chain.export(whole, config_file, "tiny_apeg")
    info = cafd_zoo.model_info("tiny_apeg")
    assert info["components"]["denoiser"] == "apegan4_tiny_apeg" and info["paper"].startswith("Jin et al.")
    assert info["files"]["denoiser"]["architecture"] == "ape_gan_generator"
    model = cafd_zoo.load("tiny_apeg")
    assert isinstance(model, DefendedClassifier) and isinstance(model.denoiser, APEGenerator)
    generator = APEGenerator(width=4)
    generator.load_state_dict(first)
    generator.eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.purify(x), generator.generate(x), atol=1e-6)
        assert torch.equal(model(x), DefendedClassifier(generator, cafd_zoo.load("tiny_r20")).eval()(x))
    unexported = load_initial_denoiser(str(whole / "denoiser.safetensors"))  # what evaluate --denoiser RUN/... builds
    assert (unexported.architecture, unexported.arguments["width"]) == ("ape_gan_generator", 4)
    with torch.no_grad():
        assert torch.equal(unexported.build().eval()(x), generator(x))
