"""Publish an exported release: upload each repository folder to the Hub, or copy it into a release
store (the mirror's layout, e.g. the repository's ``hub/``), and record the commit as the pinned
revision. The manifest then says where the files really are: ``published`` (on the Hub) or
``stored`` (in a release store, not on the Hub). A store is itself a valid source, so a stored
release is later uploaded to the Hub with the very bytes it was measured with."""
from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any, Protocol

from cafd_zoo.integrity import sha256_of
from cafd_zoo.manifest import load_manifest

from .manifest_io import update_manifest


class UploadsFolders(Protocol):
    """The part of ``huggingface_hub.HfApi`` that publishing uses."""

    def create_repo(self, repo_id: str, *, exist_ok: bool = ..., repo_type: str | None = ...) -> Any: ...
    def upload_folder(self, *, repo_id: str, folder_path: str, commit_message: str) -> Any: ...


def mirror_commit(folder: Path) -> str:
    """A deterministic 40-hex id for a folder's content (sha1 over sorted names and sha256s)."""
    listing = "\n".join(f"{p.relative_to(folder)} {sha256_of(p)}" for p in sorted(folder.rglob("*")) if p.is_file())
    return hashlib.sha1(listing.encode()).hexdigest()


_COMMIT = re.compile(r"[0-9a-f]{40}")


def _repository_folder(folder: Path) -> Path:
    """An export's repository folder as is; in a release store, the commit folder its refs/main names."""
    ref = folder / "refs" / "main"
    return folder / ref.read_text().strip() if ref.is_file() else folder


def _already_there(entry: dict[str, Any], export_dir: str | Path, mirror_root: str | Path | None) -> bool:
    """A file this export does not hold, but the mirror folder does, at the revision the manifest pins, with the
    recorded sha256: a defended release's classifier, published with its own release before."""
    if mirror_root is None or entry.get("revision") is None or (Path(export_dir) / entry["repo_id"]).exists():
        return False
    stored = Path(mirror_root) / entry["repo_id"] / entry["revision"] / entry["filename"]
    return stored.is_file() and sha256_of(stored) == entry["sha256"]


def publish(
    name: str,
    export_dir: str | Path,
    manifest_path: str | Path,
    *,
    api: UploadsFolders | None = None,
    mirror_root: str | Path | None = None,
    prune: bool = False,
) -> dict[str, str]:
    """Publish every Hub file of release ``name``; returns weights id -> commit.

    With ``mirror_root``, copies each repository to ``mirror_root/<repo_id>/<commit>/`` (the layout
    ``cafd mirror serve`` reads), points its ``refs/main`` there and marks the release ``stored``.
    Otherwise uploads with ``api`` (default ``HfApi()``, token from ``HF_TOKEN`` or the HF login)
    and marks it ``published``. ``export_dir`` is an export folder (``<repo_id>/<files>``) or a
    release store (``<repo_id>/refs/main`` naming the commit folder to upload). ``prune`` (with
    ``mirror_root``) removes each published repository's other commit folders: re-exporting a release
    (new metrics in its model card) makes a new commit, and a release store keeps only what is used.
    """
    if prune and mirror_root is None:
        raise ValueError("prune applies to a mirror folder (mirror_root) only; the Hub keeps its history")
    manifest = load_manifest(manifest_path)
    info = manifest.info(name)
    commits: dict[str, str] = {}
    for entry in info["files"].values():
        if entry["source"] != "hub":
            continue
        if _already_there(entry, export_dir, mirror_root):
            commits[entry["id"]] = entry["revision"]  # a component another release stored (the classifier)
            continue
        folder = _repository_folder(Path(export_dir) / entry["repo_id"])
        if sha256_of(folder / entry["filename"]) != entry["sha256"]:
            raise ValueError(f"{folder / entry['filename']} is not the file the manifest records; export again")
        if mirror_root is not None:
            commit = mirror_commit(folder)
            target = Path(mirror_root) / entry["repo_id"]
            shutil.copytree(folder, target / commit, dirs_exist_ok=True)
            (target / "refs").mkdir(exist_ok=True)
            (target / "refs" / "main").write_text(commit)
            if prune:
                for old in target.iterdir():
                    if old.is_dir() and _COMMIT.fullmatch(old.name) and old.name != commit:
                        shutil.rmtree(old)
        else:
            if api is None:
                from huggingface_hub import HfApi

                api = HfApi()
            api.create_repo(entry["repo_id"], exist_ok=True)
            commit = api.upload_folder(repo_id=entry["repo_id"], folder_path=str(folder),
                                       commit_message=f"Release {name}").oid
        commits[entry["id"]] = commit

    def change(data: dict[str, Any]) -> None:
        for weights_id, commit in commits.items():
            data["weights"][weights_id]["revision"] = commit
        data["releases"][name]["status"] = "stored" if mirror_root is not None else "published"
        data["releases"][name].pop("why_unpublished", None)

    update_manifest(manifest_path, change)
    return commits
