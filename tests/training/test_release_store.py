"""The release store: full-size releases committed in the mirror's layout (``hub/``), loaded offline from a
checkout through the same verified path, marked ``stored`` (not ``published``), and uploadable to the Hub
later with the very same bytes."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import cafd_zoo
from cafd_zoo.models import DefendedClassifier
from cafd_zoo.cli import main as cafd_main
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.errors import IntegrityError, WeightsUnavailableError
from cafd_zoo.integrity import sha256_of
from cafd_zoo.manifest import load_manifest
from cafd_zoo.weight_sources import CHECKOUT_STORE, release_store
from training.release.publish import publish

from ..tiny_zoo import NAME, build_tiny_zoo

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stored(tmp_path):
    """A tiny release published into a store folder, as `publish --mirror-root hub` does for real ones."""
    zoo = build_tiny_zoo(tmp_path)  # publishes into zoo.mirror_root
    return zoo


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)


def test_publishing_into_a_store_marks_the_release_stored_not_published(stored, tmp_path):
    data = json.loads(stored.manifest_path.read_text())
    data["releases"][NAME]["status"] = "unpublished"
    data["releases"][NAME]["why_unpublished"] = "exported, not yet stored"
    stored.manifest_path.write_text(json.dumps(data))
    publish(NAME, stored.export_dir, stored.manifest_path, mirror_root=tmp_path / "store")
    assert load_manifest(stored.manifest_path).releases[NAME]["status"] == "stored"
    for entry in load_manifest(stored.manifest_path).info(NAME)["files"].values():
        assert (sha256_of(tmp_path / "store" / entry["repo_id"] / entry["revision"] / entry["filename"])
                == entry["sha256"])


def test_a_stored_release_loads_from_the_store_offline_with_identical_outputs(stored, tmp_path, offline, monkeypatch):
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = stored.classifier((x + stored.denoiser(x)).clamp(0, 1))
    model = cafd_zoo.load(NAME, manifest=stored.manifest(), release_store=stored.mirror_root,
                          cache_dir=tmp_path / "empty")
    monkeypatch.setenv("CAFD_RELEASE_STORE", str(stored.mirror_root))  # the documented setting does the same
    again = cafd_zoo.load(NAME, manifest=stored.manifest(), cache_dir=tmp_path / "empty")
    with torch.no_grad():
        assert torch.equal(model(x), expected) and torch.equal(again(x), expected)
    assert not (tmp_path / "empty").exists()  # nothing went through the HF cache


def test_a_stored_release_without_a_store_says_where_its_files_are(stored, tmp_path, offline, monkeypatch):
    monkeypatch.setattr("cafd_zoo.weight_sources.CHECKOUT_STORE", tmp_path / "no-store")
    with pytest.raises(WeightsUnavailableError, match="release store.*clone of the repository.*CAFD_RELEASE_STORE"):
        cafd_zoo.load(NAME, manifest=stored.manifest(), cache_dir=tmp_path / "empty")


def test_a_damaged_file_in_the_store_is_refused_and_left_in_place(stored, tmp_path, offline):
    target = next(stored.mirror_root.glob("test-org/tiny-dunet/*/model.safetensors"))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="release store's copy is damaged: restore it from git"):
        cafd_zoo.load(NAME, manifest=stored.manifest(), release_store=stored.mirror_root, cache_dir=tmp_path / "c")
    assert target.read_bytes() == bytes(data)  # never evicted: the store is the user's checkout


def test_a_stored_release_is_uploaded_to_the_hub_with_the_same_bytes(stored):
    uploaded: dict[str, str] = {}

    class FakeApi:
        def create_repo(self, repo_id, exist_ok=False, repo_type=None):
            pass

        def upload_folder(self, *, repo_id, folder_path, commit_message):
            uploaded[repo_id] = sha256_of(Path(folder_path) / "model.safetensors")
            return SimpleNamespace(oid="cd" * 20)

    manifest_before = load_manifest(stored.manifest_path)
    publish(NAME, stored.mirror_root, stored.manifest_path, api=FakeApi())
    assert uploaded == {w["repo_id"]: w["sha256"] for w in manifest_before.info(NAME)["files"].values()}
    assert load_manifest(stored.manifest_path).releases[NAME]["status"] == "published"


def test_republishing_into_a_store_with_prune_keeps_only_the_new_commit(stored):
    repo = stored.mirror_root / "test-org" / "tiny-dunet"
    old = (repo / "refs" / "main").read_text()
    # a re-export: new model card
    (stored.export_dir / "test-org" / "tiny-dunet" / "README.md").write_text("New metrics.\n")
    commits = publish(NAME, stored.export_dir, stored.manifest_path, mirror_root=stored.mirror_root, prune=True)
    new = commits["tiny_dunet"]
    assert new != old and sorted(p.name for p in repo.iterdir()) == sorted([new, "refs"])
    assert load_manifest(stored.manifest_path).weights["tiny_dunet"]["revision"] == new
    with pytest.raises(ValueError, match="mirror folder"):
        publish(NAME, stored.export_dir, stored.manifest_path, prune=True)


def test_cafd_info_says_where_a_stored_release_is_and_how_to_load_it(stored, monkeypatch, capsys):
    monkeypatch.setenv("CAFD_MANIFEST", str(stored.manifest_path))
    monkeypatch.setenv("CAFD_RELEASE_STORE", str(stored.mirror_root))
    assert cafd_main(["info", NAME]) == 0
    out = capsys.readouterr().out
    assert "status stored" in out and "from a clone of the repository, offline" in out
    for entry in stored.manifest().info(NAME)["files"].values():
        assert f"sha256 {entry['sha256']}" in out
        assert str(stored.mirror_root / entry["repo_id"] / entry["revision"] / "model.safetensors") in out


# ---- the repository's own store: hub/ -------------------------------------------------------------------


def _stored_files() -> dict[Path, dict]:
    manifest = load_manifest()
    files = {}
    for name in manifest.names():
        info = manifest.info(name)
        if info["status"] in ("stored", "published"):
            for entry in info["files"].values():
                files[Path(entry["repo_id"]) / entry["revision"] / entry["filename"]] = entry
    return files


def test_the_store_holds_exactly_the_weight_files_the_manifest_uses():
    expected = _stored_files()
    present = ({p.relative_to(CHECKOUT_STORE) for p in CHECKOUT_STORE.rglob("*.safetensors")}
               if CHECKOUT_STORE.is_dir() else set())
    assert present == set(expected), "hub/ must hold each stored release file, and nothing no release uses"
    for relative, entry in expected.items():
        path = CHECKOUT_STORE / relative
        assert path.stat().st_size == entry["size"] and sha256_of(path) == entry["sha256"]
        assert (CHECKOUT_STORE / entry["repo_id"] / "refs" / "main").read_text().strip() == entry["revision"]


def test_no_stored_file_is_ignored_by_git():
    """A weight file .gitignore hides would pass every test here and be missing from every clone."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    paths = [str(CHECKOUT_STORE / relative) for relative in _stored_files()] + ["hub/org/name/commit/model.safetensors"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True,
                             text=True).stdout
    assert ignored == "", f"git ignores these release-store files: {ignored}"


def test_the_store_is_left_out_of_git_archive_and_of_the_wheel():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout (e.g. the tests run against an installed wheel)")
    attr = subprocess.run(["git", "check-attr", "export-ignore", "--", "hub/org/name/commit/model.safetensors"],
                          cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert attr.strip().endswith("export-ignore: set")
    setup = (REPO / "setup.cfg").read_text()
    assert "include = cafd_zoo, cafd_zoo.*" in setup  # the wheel packages cafd_zoo only; hub/ is no package


def test_the_checkout_store_is_found_from_a_checkout(monkeypatch):
    monkeypatch.delenv("CAFD_RELEASE_STORE", raising=False)
    assert release_store() == (CHECKOUT_STORE if CHECKOUT_STORE.is_dir() else None)
    with pytest.raises(WeightsUnavailableError, match="not a folder"):
        release_store("/nonexistent/store")


@pytest.mark.parametrize("name", [n for n in load_manifest().names()
                                  if load_manifest().releases[n]["status"] == "stored"]
                         or [pytest.param("none", marks=pytest.mark.skip(reason="no release is stored yet"))])
def test_every_stored_release_loads_verified_and_matches_its_recorded_embedded_error(name, offline, one_thread):
    """Each stored release, loaded from hub/ with every sha256 checked, reproduces the clean error its
    manifest records on the first 200 embedded test images (command: evaluate --embedded --n 200), to
    within 2 of the 200 images (the recorded run may have used bf16 autocast, this one is fp32; an adversarially
    trained classifier has many predictions near a tie)."""
    info = cafd_zoo.model_info(name)
    if info["kind"] == "denoiser":  # no classifier, no error of its own: it is checked inside a stored defended release
        users = [n for n in load_manifest().names() if load_manifest().releases[n]["status"] == "stored"
                 and load_manifest().releases[n]["kind"] == "defended"
                 and load_manifest().releases[n]["components"]["denoiser"] == info["components"]["denoiser"]]
        assert users, f"{name}: no stored defended release measures its denoiser"
        denoiser, defended = cafd_zoo.load(name), cafd_zoo.load(users[0])
        assert all(torch.equal(a, b)
                   for a, b in zip(denoiser.state_dict().values(), defended.denoiser.state_dict().values()))
        return
    recorded = [m for m in info["metrics"]
                if m["threat_model"] == "clean" and m["n"] == 200 and "--embedded" in m["command"]]
    assert recorded, f"{name} records no clean error on the first 200 embedded images"
    model = cafd_zoo.load(name)
    x, y = embedded_cifar10_sample(200).batch(slice(None))
    for m in recorded:
        defended = isinstance(model, DefendedClassifier)  # else a classifier release: the classifier itself
        judged = model.classifier if defended and m.get("target") == "classifier" else model
        with torch.no_grad():
            wrong = int((judged(x).argmax(1) != y).sum())
        assert abs(wrong - round(m["error_rate"] * 200)) <= 2, (name, m, wrong)


def test_publishing_keeps_files_the_store_already_holds_that_the_export_lacks(stored, tmp_path):
    """The paper's release flow: the classifier is exported and stored first, and the defended release's export
    folder holds only its denoiser; the classifier already in the store at its pinned revision is kept as is."""
    files = stored.manifest().info(NAME)["files"].values()
    empty = tmp_path / "export_without_them"
    empty.mkdir()
    commits = publish(NAME, empty, stored.manifest_path, mirror_root=stored.mirror_root)
    assert commits == {e["id"]: e["revision"] for e in files if e["source"] == "hub"}
    with pytest.raises(FileNotFoundError):  # a store that lacks them too: nothing to publish from
        publish(NAME, empty, stored.manifest_path, mirror_root=tmp_path / "other_store")
