"""Tiny, fast stand-ins for the zoo's networks: same interfaces, a few thousand parameters; and the
environment every test runs in, whatever the user's shell has set."""
from __future__ import annotations

import os
import tempfile

# Before anything imports huggingface_hub (it reads these once): the suite is hermetic and must not
# depend on a user's offline switch, mirror, cache, weights folder, release store or manifest.
for _variable in ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_HUB_CACHE", "HF_TOKEN", "CAFD_WEIGHTS_DIR",
                  "CAFD_RELEASE_STORE", "CAFD_MANIFEST", "CAFD_HUB_TIMEOUT"):
    os.environ.pop(_variable, None)
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="cafd-tests-hf-home-")

import pytest  # noqa: E402  (imported after the environment above is set)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cafd_zoo.models.denoiser import DUNET  # noqa: E402

from .tiny_zoo import build_tiny_zoo  # noqa: E402


class TinyNet(nn.Module):
    """A 3-conv classifier with the zoo interface (forward_features / forward_head / get_classifier)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return self.conv3(x)

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(F.relu(f), 1).flatten(1))

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@pytest.fixture
def tiny_net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet().eval()


@pytest.fixture
def tiny_dunet() -> DUNET:
    torch.manual_seed(0)
    return DUNET(width=8).eval()


@pytest.fixture
def images() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 32, 32, generator=g)


@pytest.fixture
def one_thread():
    """Tiny networks run fastest on one thread, and do not fight a loaded machine's other processes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def zoo_env(tmp_path, monkeypatch):
    """The tiny zoo, served from its export folder through CAFD_MANIFEST and CAFD_WEIGHTS_DIR."""
    zoo = build_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    return zoo
