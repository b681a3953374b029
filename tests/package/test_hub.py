"""Export -> mirror over real HTTP on 127.0.0.1 -> cafd_zoo.load / torch.hub.load, and every fault."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import cafd_zoo
from cafd_zoo.errors import (
    IncompatibleWeightsError,
    IntegrityError,
    ManifestError,
    ManifestVersionError,
    UnknownModelError,
    UnpublishedReleaseError,
    WeightsUnavailableError,
)
from cafd_zoo.manifest import load_manifest
from cafd_zoo.mirror import MirrorServer

from ..tiny_zoo import NAME, TinyZoo, build_tiny_zoo

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def zoo(tmp_path) -> TinyZoo:
    return build_tiny_zoo(tmp_path)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def expected_logits(zoo: TinyZoo, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return zoo.classifier((x + zoo.denoiser(x)).clamp(0, 1))


def load_from(zoo: TinyZoo, server: MirrorServer | None, cache: Path, **kwargs):
    return cafd_zoo.load(NAME, manifest=zoo.manifest(), endpoint=server.url if server else None, cache_dir=cache,
                         **kwargs)


def cached_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*.safetensors")] if cache.exists() else []


def test_export_serve_load_gives_identical_outputs_then_works_offline(zoo, tmp_path, images):
    with MirrorServer(zoo.mirror_root) as server:
        model = load_from(zoo, server, tmp_path / "cache")
    assert isinstance(model, cafd_zoo.DefendedClassifier) and not model.training
    with torch.no_grad():
        assert torch.equal(model(images), expected_logits(zoo, images))
    # server gone: the pinned commit resolves from the cache alone
    again = load_from(zoo, None, tmp_path / "cache", local_files_only=True)
    with torch.no_grad():
        assert torch.equal(again(images), expected_logits(zoo, images))
    assert again.release_info["metrics"][0]["error_rate"] == 0.875


def _hub_load_in_subprocess(zoo: TinyZoo, env_extra: dict[str, str], out: Path,
                            images: torch.Tensor) -> subprocess.CompletedProcess:
    from safetensors.torch import save_file

    save_file({"x": images}, str(out.with_suffix(".in")))
    code = (
        "import torch, sys; from safetensors.torch import load_file, save_file\n"
        f"m = torch.hub.load({str(REPO)!r}, {NAME!r}, source='local', trust_repo=True)\n"
        f"x = load_file({str(out.with_suffix('.in'))!r})['x']\n"
        f"with torch.no_grad(): save_file({{'y': m(x)}}, {str(out)!r})\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"CAFD_MANIFEST": str(zoo.manifest_path), "HF_HUB_DISABLE_TELEMETRY": "1"} | env_extra
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=out.parent)


def test_torch_hub_load_over_http_then_offline(zoo, tmp_path, images):
    hf_home = str(tmp_path / "hf_home")
    with MirrorServer(zoo.mirror_root) as server:
        done = _hub_load_in_subprocess(zoo, {"HF_ENDPOINT": server.url, "HF_HOME": hf_home},
                                       tmp_path / "online.st", images)
    assert done.returncode == 0, done.stderr
    assert torch.equal(load_file(str(tmp_path / "online.st"))["y"], expected_logits(zoo, images))
    done = _hub_load_in_subprocess(zoo, {"HF_HUB_OFFLINE": "1", "HF_HOME": hf_home}, tmp_path / "offline.st", images)
    assert done.returncode == 0, done.stderr
    assert torch.equal(load_file(str(tmp_path / "offline.st"))["y"], expected_logits(zoo, images))


def test_flipped_bytes_fail_the_checksum_and_are_not_trusted_again(zoo, tmp_path, images):
    cache = tmp_path / "cache"
    with MirrorServer(zoo.mirror_root, faults={"model.safetensors": "flip"}) as server:
        with pytest.raises(IntegrityError, match="sha256 mismatch.*removed from the Hugging Face cache"):
            load_from(zoo, server, cache)
    assert cached_files(cache) == []  # evicted, blob included
    with MirrorServer(zoo.mirror_root) as server:  # a healthy mirror: the next load re-downloads
        model = load_from(zoo, server, cache)
    with torch.no_grad():
        assert torch.equal(model(images), expected_logits(zoo, images))


def test_truncated_file_on_the_mirror_fails_the_size_check(zoo, tmp_path):
    target = next(zoo.mirror_root.glob("test-org/tiny-resnet20/*/model.safetensors"))
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with MirrorServer(zoo.mirror_root) as server:
        with pytest.raises(IntegrityError, match="truncated"):
            load_from(zoo, server, tmp_path / "cache")
    assert not any("tiny-resnet20" in str(p) for p in cached_files(tmp_path / "cache"))


@pytest.fixture
def no_backoff(monkeypatch):
    """huggingface_hub sleeps between retries (1-8 s each); the retries still happen, instantly."""
    import time

    monkeypatch.setattr(time, "sleep", lambda seconds: None)


def test_connection_cut_mid_transfer_is_a_download_error(zoo, tmp_path, no_backoff):
    with MirrorServer(zoo.mirror_root, faults={"model.safetensors": "truncate"}) as server:
        with pytest.raises((WeightsUnavailableError, IntegrityError)):
            load_from(zoo, server, tmp_path / "cache")
    assert cached_files(tmp_path / "cache") == []


def test_wrong_size_in_the_manifest(zoo, tmp_path):
    data = json.loads(zoo.manifest_path.read_text())
    data["weights"]["tiny_dunet"]["size"] += 1
    zoo.manifest_path.write_text(json.dumps(data))
    with MirrorServer(zoo.mirror_root) as server:
        with pytest.raises(IntegrityError, match="manifest expects"):
            load_from(zoo, server, tmp_path / "cache")


def test_http_500(zoo, tmp_path):
    with MirrorServer(zoo.mirror_root, faults={"model.safetensors": "500"}) as server:
        with pytest.raises(WeightsUnavailableError, match="500|did not answer"):
            load_from(zoo, server, tmp_path / "cache")


def test_server_gone(zoo, tmp_path, no_backoff):
    server = MirrorServer(zoo.mirror_root).start()
    url = server.url
    server.stop()
    with pytest.raises(WeightsUnavailableError, match="did not answer|could not download"):
        cafd_zoo.load(NAME, manifest=zoo.manifest(), endpoint=url, cache_dir=tmp_path / "cache")


def test_offline_with_an_empty_cache(zoo, tmp_path):
    with pytest.raises(WeightsUnavailableError, match="not in the local cache"):
        load_from(zoo, None, tmp_path / "empty", local_files_only=True)


def test_repository_missing_on_the_mirror(zoo, tmp_path):
    (tmp_path / "empty_mirror").mkdir()
    with MirrorServer(tmp_path / "empty_mirror") as server:
        with pytest.raises(WeightsUnavailableError, match="does not exist on that Hub"):
            load_from(zoo, server, tmp_path / "cache")


def test_local_weights_dir(zoo, images):
    model = cafd_zoo.load(NAME, manifest=zoo.manifest(), weights_dir=zoo.export_dir)
    with torch.no_grad():
        assert torch.equal(model(images), expected_logits(zoo, images))
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        cafd_zoo.load(NAME, manifest=zoo.manifest(), weights_dir=zoo.export_dir / "nowhere")


def test_weights_that_do_not_fit_the_architecture(zoo):
    data = json.loads(zoo.manifest_path.read_text())
    data["weights"]["tiny_dunet"]["arguments"]["width"] = 8
    zoo.manifest_path.write_text(json.dumps(data))
    with pytest.raises(IncompatibleWeightsError, match="does not fit architecture dunet"):
        cafd_zoo.load(NAME, manifest=load_manifest(zoo.manifest_path), weights_dir=zoo.export_dir)


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownModelError, match="Did you mean 'cafd_vgg19_cifar10'"):
        cafd_zoo.load("cafd_vgg_cifar10")


def test_unpublished_release_says_so():
    with pytest.raises(UnpublishedReleaseError, match="no trained weights yet.*A GPU job.*pretrained=False"):
        cafd_zoo.load("cafd_wrn28_20_cifar10")  # with the reason the manifest records
    assert isinstance(cafd_zoo.load("cafd_vgg19_svhn", pretrained=False), cafd_zoo.DefendedClassifier)


def test_manifest_failing_its_schema(tmp_path):
    bad = json.loads((REPO / "weights_manifest.json").read_text())
    bad["weights"]["vgg19_cifar10"]["sha256"] = "not-a-hash"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ManifestError, match="fails its schema at weights/vgg19_cifar10/sha256"):
        load_manifest(tmp_path / "bad.json")


def test_manifest_of_a_newer_schema_version(tmp_path):
    (tmp_path / "new.json").write_text(json.dumps({"schema_version": 2, "weights": {}, "releases": {}, "extra": 1}))
    with pytest.raises(ManifestVersionError, match="upgrade"):
        load_manifest(tmp_path / "new.json")


def test_inconsistent_manifest(tmp_path):
    bad = json.loads((REPO / "weights_manifest.json").read_text())
    name = next(n for n, r in bad["releases"].items() if r["status"] == "unpublished" and r["kind"] == "classifier")
    weights = bad["releases"][name]["components"]["classifier"]
    bad["releases"][name]["status"] = "published"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ManifestError, match=f"published but '{weights}' has no sha256"):
        load_manifest(tmp_path / "bad.json")


def test_manifest_with_a_denoiser_as_classifier(tmp_path):
    bad = json.loads((REPO / "weights_manifest.json").read_text())
    components = bad["releases"]["cafd_vgg19_cifar10"]["components"]
    components["classifier"], components["denoiser"] = components["denoiser"], components["classifier"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ManifestError) as error:
        load_manifest(tmp_path / "bad.json")
    assert "'cafd_vgg19_cifar10': its denoiser 'vgg19_cifar10' is a vgg19, a classifier" in str(error.value)
    assert "'cafd_vgg19_cifar10': its classifier 'dunet_vgg19caf_cifar10' is a dunet, a denoiser" in str(error.value)
