"""EOT over a randomised purifier (TVM): the gradient is the mean of the draws' gradients, the draws are
repeatable under a seed, one draw is the plain model, and evaluate records the draws in every row."""
from __future__ import annotations

import pytest
import torch

from cafd_zoo.cam import ClassActivationFeatures
from cafd_zoo.evaluation import EOTClassifier, random_generators, with_eot
from cafd_zoo.models import DefendedClassifier
from cafd_zoo.purifiers import TVMPurifier
from training.__main__ import main as training_main
from cafd_zoo.metrics_log import read_metrics


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


@pytest.fixture
def randomised(tiny_net) -> DefendedClassifier:
    purifier = TVMPurifier(steps=5, lr=0.05, generator=torch.Generator().manual_seed(0))
    return DefendedClassifier(purifier, tiny_net).eval()


def vjp(model: torch.nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, the gradient of <logits, upstream> with respect to x): any loss's gradient is such a product."""
    x = x.clone().requires_grad_(True)
    logits = model(x)
    (grad,) = torch.autograd.grad(logits, x, grad_outputs=upstream)
    return logits.detach(), grad


def test_the_gradient_is_the_mean_of_the_single_draw_gradients(randomised, images):
    upstream = torch.randn(len(images), 10, generator=torch.Generator().manual_seed(1))
    eot = EOTClassifier(randomised, 4, seed=3)
    logits, grad = vjp(eot, images, upstream)
    assert len(set(eot.last_seeds)) == 4
    single_logits, single_grads = [], []
    for seed in eot.last_seeds:  # each draw alone, under the seed EOT gave it
        randomised.denoiser.generator.manual_seed(seed)
        draw_logits, draw_grad = vjp(randomised, images, upstream)
        single_logits.append(draw_logits)
        single_grads.append(draw_grad)
    assert not torch.allclose(single_grads[0], single_grads[1])  # the draws differ, so the mean means something
    assert torch.allclose(logits, torch.stack(single_logits).mean(0), atol=1e-6)
    assert torch.allclose(grad, torch.stack(single_grads).mean(0), atol=1e-7)
    assert not torch.allclose(grad, single_grads[0])


def test_draws_are_repeatable_under_a_seed_and_leave_the_deployed_draws_alone(randomised, images):
    upstream = torch.randn(len(images), 10, generator=torch.Generator().manual_seed(1))
    purifier_state = randomised.denoiser.generator.get_state()
    first, again, other = (vjp(EOTClassifier(randomised, 3, seed=s), images, upstream) for s in (5, 5, 6))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.allclose(first[1], other[1])
    assert torch.equal(randomised.denoiser.generator.get_state(), purifier_state)  # restored after every call
    eot = EOTClassifier(randomised, 3, seed=5)
    eot(images)
    seeds = eot.last_seeds
    eot(images)
    assert eot.last_seeds != seeds  # fresh draws on every attack step


def test_one_draw_is_the_plain_model_and_a_deterministic_model_is_refused(randomised, tiny_dunet, tiny_net, images):
    assert with_eot(randomised, 1, seed=0) is randomised
    assert isinstance(with_eot(randomised, 2, seed=0), EOTClassifier)
    single = EOTClassifier(randomised, 1, seed=9)
    out = single(images)
    randomised.denoiser.generator.manual_seed(single.last_seeds[0])
    assert torch.equal(out, randomised(images))
    deterministic = DefendedClassifier(tiny_dunet, tiny_net)
    assert random_generators(deterministic) == [] and random_generators(randomised) == [randomised.denoiser.generator]
    with pytest.raises(ValueError, match="deterministic"):
        EOTClassifier(deterministic, 2)
    with pytest.raises(ValueError, match="at least 1 draw"):
        EOTClassifier(randomised, 0)


def test_class_activation_features_are_averaged_too(randomised, images):
    eot = EOTClassifier(randomised, 2, seed=0)
    averaged = eot.forward_features(images)
    features = []
    for seed in eot.last_seeds:
        randomised.denoiser.generator.manual_seed(seed)
        features.append(randomised.forward_features(images))
    assert not torch.allclose(features[0], features[1])
    assert torch.allclose(averaged, torch.stack(features).mean(0), atol=1e-6)
    assert ClassActivationFeatures(eot).phi(images).shape == averaged.shape  # what CAFA attacks, through EOT


def test_evaluate_records_eot_in_every_row(classifier_run, tmp_path, capsys):
    out = tmp_path / "tvm.jsonl"
    argv = classifier_run + ["--purifier", "tvm", "--threat", "oblivious,bpda", "--eot", "2", "--out", str(out)]
    assert training_main(argv) == 0
    draws = {r["threat_model"]: r["params"]["eot"] for r in read_metrics(out)}
    assert draws == {"oblivious": 1, "bpda": 2}  # the bare classifier has nothing random to average
    assert training_main(classifier_run + ["--purifier", "jpeg", "--threat", "bpda", "--eot", "2",
                                           "--out", str(tmp_path / "j.jsonl")]) == 1
    assert "is deterministic: drop --eot" in capsys.readouterr().err
