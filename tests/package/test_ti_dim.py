"""TI-DIM: in the L-inf ball and [0, 1], stronger than clean, repeatable under a seed, and its three
ingredients (Gaussian kernel, input diversity, momentum) as specified."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cafd_zoo.attacks import ti_dim
from cafd_zoo.attacks.ti_dim import gaussian_kernel, input_diversity


def test_stays_in_the_ball_and_raises_the_loss(tiny_net, images):
    labels = tiny_net(images).argmax(1)
    x_adv = ti_dim(tiny_net, images, labels, eps=8 / 255, steps=5, generator=torch.Generator().manual_seed(0))
    assert (x_adv - images).abs().max() <= 8 / 255 + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    with torch.no_grad():
        assert F.cross_entropy(tiny_net(x_adv), labels) > F.cross_entropy(tiny_net(images), labels)


def test_is_repeatable_under_a_seed_and_leaves_the_model_alone(tiny_net, images):
    labels = tiny_net(images).argmax(1)
    tiny_net.train()

    def run(seed):
        return ti_dim(tiny_net, images, labels, steps=4, generator=torch.Generator().manual_seed(seed))
    assert run(3).equal(run(3))
    assert tiny_net.training and all(p.requires_grad and p.grad is None for p in tiny_net.parameters())


def test_gaussian_kernel_is_a_normalised_symmetric_bump():
    kernel = gaussian_kernel(7)
    assert kernel.shape == (7, 7) and torch.isclose(kernel.sum(), torch.tensor(1.0))
    assert torch.equal(kernel, kernel.T) and torch.equal(kernel, kernel.flip(0)) and kernel.argmax() == 24  # the centre
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(6)


def test_input_diversity_shrinks_and_pads_back_to_the_same_size(images):
    generator = torch.Generator().manual_seed(0)
    outputs = [input_diversity(images, resize_rate=0.9, prob=1.0, generator=generator) for _ in range(8)]
    assert all(o.shape == images.shape for o in outputs)
    for o in outputs:  # a shrunk image (side 28 to 31) in a frame of zero padding
        rows, cols = o[0].abs().sum(dim=(0, 2)) > 0, o[0].abs().sum(dim=(0, 1)) > 0
        assert 28 <= int(rows.sum()) <= 31 and int(rows.sum()) == int(cols.sum())
    assert input_diversity(images, resize_rate=0.9, prob=0.0, generator=generator) is images


def test_bad_parameters_get_clear_errors(tiny_net, images):
    with pytest.raises(ValueError, match="resize_rate"):
        ti_dim(tiny_net, images, torch.zeros(6, dtype=torch.long), resize_rate=0)
