import pytest
import torch

from cafd_zoo import DefendedClassifier, InvalidInputError


@pytest.fixture
def defended(tiny_dunet, tiny_net):
    return DefendedClassifier(tiny_dunet, tiny_net).eval()


def test_forward_is_classifier_of_clamped_residual(defended, tiny_dunet, tiny_net, images):
    with torch.no_grad():
        expected = tiny_net((images + tiny_dunet(images)).clamp(0, 1))
        assert torch.equal(defended(images), expected)
        assert torch.equal(defended.purify(images), (images + tiny_dunet(images)).clamp(0, 1))
    assert defended.denoiser is tiny_dunet and defended.classifier is tiny_net


def test_official_behaviour_without_clamp(tiny_dunet, tiny_net, images):
    d = DefendedClassifier(tiny_dunet, tiny_net, clamp=False).eval()
    with torch.no_grad():
        assert torch.equal(d.purify(images), images + tiny_dunet(images))


def test_deterministic_and_differentiable_end_to_end(defended, images):
    x = images.clone().requires_grad_(True)
    out = defended(x)
    assert torch.equal(out, defended(images))
    out[torch.arange(6), out.argmax(1)].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # the gradient flows through the denoiser, not only around it
    residual_grad = torch.autograd.grad(defended.denoiser(images.clone().requires_grad_(True)).sum(),
                                        list(defended.denoiser.parameters())[0])
    assert residual_grad[0].abs().sum() > 0


def test_a_plain_pgd_loop_runs_on_it(defended, images):
    labels = torch.arange(6) % 10
    x_adv = images.clone()
    for _ in range(3):
        x_adv.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(defended(x_adv), labels)
        (g,) = torch.autograd.grad(loss, x_adv)
        x_adv = (images + (x_adv.detach() + 2 / 255 * g.sign() - images).clamp(-8 / 255, 8 / 255)).clamp(0, 1)
    with torch.no_grad():
        before = torch.nn.functional.cross_entropy(defended(images), labels)
        after = torch.nn.functional.cross_entropy(defended(x_adv), labels)
    assert after > before


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[0.5]], "must be a torch.Tensor"),
        (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "float tensor"),
        (torch.rand(3, 32, 32), "4-D"),
        (torch.rand(2, 1, 32, 32), "3 channels"),
        (torch.rand(2, 32, 32, 3), "permute"),
        (torch.rand(2, 3, 32, 32) * 255, r"\[0, 1\]"),
        (torch.rand(2, 3, 32, 32) - 0.5, r"\[0, 1\]"),
        (torch.full((2, 3, 32, 32), float("nan")), "NaN or inf"),
        (torch.tensor([0.5, float("inf")]).repeat(1536).view(1, 3, 32, 32), "NaN or inf"),
        (torch.rand(2, 3, 64, 64), "32x32"),
    ],
)
def test_bad_inputs_get_one_clear_error(defended, bad, message):
    with pytest.raises(InvalidInputError, match=message):
        defended(bad)
    with pytest.raises(InvalidInputError, match=message):
        defended.purify(bad)


def test_values_within_the_tolerance_are_accepted(defended):
    x = torch.rand(2, 3, 32, 32)
    x[0, 0, 0, 0] = 1.00005
    x[0, 0, 0, 1] = -0.00005
    defended(x)


def test_other_sizes_pass_when_the_size_check_is_off(tiny_dunet, tiny_net):
    d = DefendedClassifier(tiny_dunet, tiny_net, input_size=None).eval()
    with torch.no_grad():
        assert d(torch.rand(2, 3, 64, 48)).shape == (2, 10)


def test_constructor_rejects_non_modules(tiny_net):
    with pytest.raises(TypeError, match="denoiser must be a torch.nn.Module"):
        DefendedClassifier(lambda x: x, tiny_net)
