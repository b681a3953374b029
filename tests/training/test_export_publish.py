"""Export writes what the manifest records; publish pins the commit the upload returns."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from cafd_zoo.errors import ManifestError
from cafd_zoo.integrity import sha256_of
from cafd_zoo.manifest import load_manifest
from cafd_zoo.models import create_model
from training.__main__ import main as training_main
from training.release.export import Component, ReleaseSpec, export_release
from training.release.publish import mirror_commit, publish

METRIC = {"threat_model": "oblivious", "target": "defended", "attack": "pgd",
          "budget": {"norm": "Linf", "eps": "8/255", "steps": 20},
          "n": 16, "seed": 0, "error_rate": 0.25, "command": "python -m training evaluate ..."}


def export_tiny(tmp_path, metrics=()):
    torch.manual_seed(0)
    return export_release(
        "tiny_classifier",
        [Component("classifier", "tiny_r20", "resnet20", {"num_classes": 10}, create_model("resnet20"),
                   repo_id="org/tiny-r20")],
        ReleaseSpec(kind="classifier", dataset="cifar10", summary="tiny", metrics=list(metrics)),
        tmp_path / "export", tmp_path / "manifest.json",
    )


def test_export_records_what_it_wrote(tmp_path):
    release = export_tiny(tmp_path, [METRIC])
    folder = tmp_path / "export" / "org" / "tiny-r20"
    entry = load_manifest(tmp_path / "manifest.json").weights["tiny_r20"]
    assert release["status"] == "unpublished" and entry["revision"] is None
    assert entry["sha256"] == sha256_of(folder / "model.safetensors")
    assert entry["size"] == (folder / "model.safetensors").stat().st_size
    assert entry["num_params"] == 272_474
    config = json.loads((folder / "config.json").read_text())
    assert config["architecture"] == "resnet20" and config["sha256"] == entry["sha256"]
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlicense: mit") and "model-index:" in card
    assert "value: 75.0" in card and "| 25.00% |" in card  # robust accuracy = 1 - error rate, from the metric


def test_export_in_fp16_halves_the_file_and_loads_as_fp32(tmp_path):
    torch.manual_seed(0)
    module = create_model("resnet20")
    export_release("half", [Component("classifier", "half_r20", "resnet20", {"num_classes": 10}, module)],
                   ReleaseSpec(kind="classifier", dataset="cifar10", summary="fp16"), tmp_path / "pkg",
                   tmp_path / "m.json", dtype="float16")
    entry = load_manifest(tmp_path / "m.json").weights["half_r20"]
    assert entry["source"] == "package" and entry["dtype"] == "float16"
    assert entry["size"] < 0.6 * 272_474 * 4


def test_publish_pins_the_commit_the_hub_returns(tmp_path):
    export_tiny(tmp_path)
    calls = []

    class FakeApi:
        def create_repo(self, repo_id, exist_ok=False, repo_type=None):
            calls.append(("create", repo_id, exist_ok))

        def upload_folder(self, *, repo_id, folder_path, commit_message):
            calls.append(("upload", repo_id, sorted(p.name for p in __import__("pathlib").Path(folder_path).iterdir())))
            return SimpleNamespace(oid="ab" * 20)

    commits = publish("tiny_classifier", tmp_path / "export", tmp_path / "manifest.json", api=FakeApi())
    assert commits == {"tiny_r20": "ab" * 20}
    assert calls == [("create", "org/tiny-r20", True),
                     ("upload", "org/tiny-r20", ["README.md", "config.json", "model.safetensors"])]
    manifest = load_manifest(tmp_path / "manifest.json")
    assert manifest.weights["tiny_r20"]["revision"] == "ab" * 20
    assert manifest.releases["tiny_classifier"]["status"] == "published"


def test_publish_to_a_mirror_folder_from_the_command_line(tmp_path, capsys):
    export_tiny(tmp_path)
    argv = ["publish", "tiny_classifier", "--export-dir", str(tmp_path / "export"),
            "--manifest", str(tmp_path / "manifest.json"),
            "--mirror-root", str(tmp_path / "mirror")]
    assert training_main(argv) == 0
    commit = mirror_commit(tmp_path / "export" / "org" / "tiny-r20")
    assert (tmp_path / "mirror" / "org" / "tiny-r20" / commit / "model.safetensors").is_file()
    assert (tmp_path / "mirror" / "org" / "tiny-r20" / "refs" / "main").read_text() == commit
    assert f"stored at commit {commit}" in capsys.readouterr().out
    mode = (tmp_path / "mirror" / "org" / "tiny-r20" / commit / "model.safetensors").stat().st_mode
    assert mode & 0o044 == 0o044  # readable by every user of a shared store (safetensors writes 0600)


def test_publish_refuses_a_file_that_changed_after_export(tmp_path, capsys):
    export_tiny(tmp_path)
    weights = tmp_path / "export" / "org" / "tiny-r20" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="not the file the manifest records"):
        publish("tiny_classifier", tmp_path / "export", tmp_path / "manifest.json", mirror_root=tmp_path / "mirror")
    assert load_manifest(tmp_path / "manifest.json").releases["tiny_classifier"]["status"] == "unpublished"


def test_an_invalid_change_leaves_the_manifest_untouched(tmp_path):
    export_tiny(tmp_path)
    before = (tmp_path / "manifest.json").read_bytes()
    with pytest.raises(ManifestError, match="refusing to write"):
        export_release("Bad Name", [Component("classifier", "x", "resnet20", {}, create_model("resnet20"),
                                              repo_id="org/x")],
                       ReleaseSpec(kind="classifier", dataset="cifar10", summary="bad"), tmp_path / "export",
                       tmp_path / "manifest.json")
    assert (tmp_path / "manifest.json").read_bytes() == before
