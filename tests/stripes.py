"""Synthetic stripes and a tiny classifier trained on them: the fixture the STA and FWA tests share."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def stripes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """16x16 grey stripes of period 4 with a random phase; the class is the orientation (0, 45, 90, 135 degrees)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    angle = (labels.float() * math.pi / 4).view(-1, 1, 1)
    rows, cols = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=g)
    wave = 0.5 + 0.35 * torch.sin(math.pi / 2 * (cols * angle.cos() + rows * angle.sin()) + phase)
    return (wave[:, None].expand(n, 3, 16, 16) + 0.05 * torch.randn(n, 3, 16, 16, generator=g)).clamp(0, 1), labels


def train_stripes_classifier() -> nn.Module:
    """A 2-conv, 4-class net trained to near-zero error on :func:`stripes` (150 Adam steps, seeded)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))
    x, y = stripes(512, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for step in range(150):
        batch = torch.arange(step * 64, step * 64 + 64) % 512
        opt.zero_grad()
        F.cross_entropy(net(x[batch]), y[batch]).backward()
        opt.step()
    return net.eval()
