"""The packaged manifest validates, matches the real architectures, and agrees with hubconf.py."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

import cafd_zoo
from cafd_zoo.errors import ManifestError
from cafd_zoo.manifest import load_manifest, packaged_manifest_path
from cafd_zoo.models import create_model

REPO = Path(__file__).resolve().parents[2]


def hubconf_module():
    sys.path.insert(0, str(REPO))
    try:
        spec = importlib.util.spec_from_file_location("hubconf_under_test", REPO / "hubconf.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO))


def hub_list(module) -> list[str]:
    """What torch.hub.list shows (its own rule: public callables of hubconf). torch 2.14's list()
    takes GitHub repositories only, so the rule is applied to the local file here."""
    return sorted(f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_"))


def test_packaged_manifest_is_the_repository_manifest_and_validates():
    assert packaged_manifest_path().read_bytes() == (REPO / "weights_manifest.json").read_bytes()
    manifest = load_manifest(REPO / "weights_manifest.json")
    assert {"cafd_vgg19_cifar10", "cafd_resnet50_cifar10", "cafd_wrn28_20_cifar10", "cafd_vgg19_svhn",
            "cafd_denoiser_cifar10", "vgg19_cifar10"} <= set(manifest.releases)


def test_parameter_counts_match_the_architectures():
    for key, entry in load_manifest().weights.items():
        model = create_model(entry["architecture"], **entry["arguments"])
        assert sum(p.numel() for p in model.parameters()) == entry["num_params"], key


def test_nothing_unpublished_claims_weights_or_metrics():
    for name, release in load_manifest().releases.items():
        if release["status"] == "unpublished":
            assert release["metrics"] == [], name


def test_every_release_without_weights_says_why_and_no_other_does(tmp_path):
    for name, release in load_manifest().releases.items():
        assert ("why_unpublished" in release) == (release["status"] == "unpublished"), name
    data = json.loads(load_manifest().path.read_text())
    name = next(n for n, r in data["releases"].items() if r["status"] == "unpublished")
    del data["releases"][name]["why_unpublished"]
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=f"release '{name}': an unpublished release says why"):
        load_manifest(tmp_path / "m.json")


def test_every_release_has_an_entrypoint_and_every_entrypoint_a_release():
    module = hubconf_module()
    assert hub_list(module) == cafd_zoo.list_models()
    assert module.dependencies == ["torch", "torchvision", "safetensors", "huggingface_hub", "timm", "jsonschema"]


def test_entrypoint_docstrings_come_from_the_manifest():
    module = hubconf_module()
    for name in cafd_zoo.list_models():
        doc = getattr(module, name).__doc__
        info = cafd_zoo.model_info(name)
        assert info["summary"] in doc and f"Status: {info['status']}" in doc and "pretrained" in doc


@pytest.mark.parametrize("name, kind", [("cafd_resnet50_cifar10", cafd_zoo.DefendedClassifier),
                                        ("cafd_denoiser_svhn", cafd_zoo.DUNET), ("vgg19_svhn", torch.nn.Module)])
def test_torch_hub_load_local_builds_each_kind(name, kind):
    model = torch.hub.load(str(REPO), name, source="local", trust_repo=True, pretrained=False)
    assert isinstance(model, kind) and not model.training
    assert model.release_info["name"] == name


def test_model_info_is_a_copy():
    info = cafd_zoo.model_info("cafd_vgg19_cifar10")
    info["summary"] = "changed"
    assert cafd_zoo.model_info("cafd_vgg19_cifar10")["summary"] != "changed"
    assert info["files"]["denoiser"]["num_params"] == 11_038_851
    assert json.dumps(info)  # plain data
