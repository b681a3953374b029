"""The Hub mirror against the real ``huggingface_hub`` client: hermetic, 127.0.0.1 only, caches under tmp_path."""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import constants, file_download, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from cafd_zoo.mirror import MirrorServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "acme/tiny"
FAULTS = {"broken.bin": "500", "short.bin": "truncate", "flipped.bin": "flip"}


def _content(name: str) -> bytes:
    """Distinct bytes per file: the client's cache is content-addressed by ETag, so equal files would share a blob."""
    return b"".join(hashlib.sha256(f"{name}{i}".encode()).digest() for i in range(100))  # 3200 bytes


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's HF_HUB_OFFLINE=1 would block even 127.0.0.1."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "mirror"
    snapshot = root / REPO / COMMIT
    for name in ["model.safetensors", "sub/config.json", "sub/ünï code.txt", *FAULTS]:
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(_content(name))
    (root / REPO / "refs").mkdir()
    (root / REPO / "refs" / "main").write_text(COMMIT + "\n")
    (tmp_path / "secret.txt").write_text("outside the mirror")
    return root


@pytest.fixture
def server(tree: Path):
    with MirrorServer(tree, faults=FAULTS) as s:
        yield s


def _download(server: MirrorServer, tmp_path: Path, filename: str, revision: str = "main", **kw) -> Path:
    return Path(hf_hub_download(REPO, filename, revision=revision, endpoint=server.url,
                                cache_dir=tmp_path / "cache", token=False, **kw))


def _get(url: str, method: str = "GET", **headers: str):
    """urllib without proxies; HTTP errors come back as responses rather than exceptions."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        return opener.open(urllib.request.Request(url, method=method, headers=headers), timeout=5)
    except urllib.error.HTTPError as e:
        return e


def test_download_by_commit_and_by_branch(server: MirrorServer, tmp_path: Path) -> None:
    by_commit = _download(server, tmp_path, "model.safetensors", revision=COMMIT)
    by_main = _download(server, tmp_path, "model.safetensors")
    assert by_commit.read_bytes() == by_main.read_bytes() == _content("model.safetensors")
    assert by_commit == by_main and COMMIT in by_commit.parts
    for name in ["sub/config.json", "sub/ünï code.txt"]:
        assert _download(server, tmp_path, name).read_bytes() == _content(name)
    assert (tmp_path / "cache" / "models--acme--tiny" / "refs" / "main").read_text() == COMMIT


def test_cached_file_served_offline_after_stop(tree: Path, tmp_path: Path) -> None:
    with MirrorServer(tree) as server:
        first = _download(server, tmp_path, "model.safetensors")
    again = _download(server, tmp_path, "model.safetensors", local_files_only=True)
    assert again == first and again.read_bytes() == _content("model.safetensors")


def test_head_headers_match_what_the_client_reads(server: MirrorServer) -> None:
    r = _get(f"{server.url}/{REPO}/resolve/main/model.safetensors", method="HEAD")
    assert r.status == 200
    assert r.headers["X-Repo-Commit"] == COMMIT
    assert r.headers["ETag"] == f'"{hashlib.sha256(_content("model.safetensors")).hexdigest()}"'
    assert r.headers["Content-Length"] == str(len(_content("model.safetensors")))
    assert r.headers["Accept-Ranges"] == "bytes"


def test_etag_follows_file_changes(server: MirrorServer, tree: Path) -> None:
    url = f"{server.url}/{REPO}/resolve/{COMMIT}/model.safetensors"
    before = _get(url, method="HEAD").headers["ETag"]
    path = tree / REPO / COMMIT / "model.safetensors"
    path.write_bytes(b"new weights")
    os.utime(path, ns=(1, 1))  # the cache key includes mtime; make sure it moves even on coarse clocks
    assert _get(url, method="HEAD").headers["ETag"] == f'"{hashlib.sha256(b"new weights").hexdigest()}"' != before


def test_range_request_returns_206(server: MirrorServer) -> None:
    data = _content("model.safetensors")
    url = f"{server.url}/{REPO}/resolve/main/model.safetensors"
    r = _get(url, Range="bytes=1000-")
    assert r.status == 206 and r.read() == data[1000:]
    assert r.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    r = _get(url, Range="bytes=10-19")
    assert r.status == 206 and r.read() == data[10:20]
    r = _get(url, Range=f"bytes={len(data)}-")
    assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{len(data)}"


def test_unknown_file_repo_and_revision_raise_the_hub_exceptions(server: MirrorServer, tmp_path: Path) -> None:
    with pytest.raises(RemoteEntryNotFoundError) as e:
        _download(server, tmp_path, "missing.bin")
    assert e.type is RemoteEntryNotFoundError and isinstance(e.value, EntryNotFoundError)
    with pytest.raises(RepositoryNotFoundError) as e:
        hf_hub_download("acme/nope", "model.safetensors", endpoint=server.url, cache_dir=tmp_path / "c", token=False)
    assert e.type is RepositoryNotFoundError
    with pytest.raises(RevisionNotFoundError) as e:
        _download(server, tmp_path, "model.safetensors", revision="v9")
    assert e.type is RevisionNotFoundError
    with pytest.raises(RevisionNotFoundError):
        _download(server, tmp_path, "model.safetensors", revision="f" * 40)


@pytest.mark.parametrize("path", [
    f"/{REPO}/resolve/main/../../../../secret.txt",
    f"/{REPO}/resolve/main/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    f"/{REPO}/resolve/main/..%2F..%2F..%2F..%2Fsecret.txt",
    f"/{REPO}/resolve/..%2F..%2F..%2Fsecret.txt/x",
    "/../mirror/resolve/main/secret.txt",
    f"/{REPO}/resolve/main//etc/passwd",
    f"/{REPO}/resolve/main/%2Fetc%2Fpasswd",
])
def test_path_traversal_is_refused(server: MirrorServer, path: str) -> None:
    r = _get(server.url + path)
    assert r.status == 400  # huggingface_hub would raise BadRequestError
    assert b"outside the mirror" not in r.read()


def test_error_headers_cannot_be_injected(server: MirrorServer) -> None:
    r = _get(f"{server.url}/{REPO}/resolve/main/x%0D%0AX-Evil:%201%C3%A9")
    assert r.status == 404 and r.headers["X-Error-Code"] == "EntryNotFound" and "X-Evil" not in r.headers
    assert r.headers["X-Repo-Commit"] == COMMIT


def test_fault_500_raises_http_error(server: MirrorServer, tmp_path: Path) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        _download(server, tmp_path, "broken.bin")
    assert e.type is HfHubHTTPError and e.value.response.status_code == 500


def test_fault_truncate_raises_after_client_retries(
    server: MirrorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx2 = pytest.importorskip("httpx2")  # huggingface_hub 2.x's HTTP client
    naps: list[float] = []
    monkeypatch.setattr(file_download.time, "sleep", naps.append)  # http_get sleeps 1 s per retry
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete|without sending complete"):
        _download(server, tmp_path, "short.bin")
    assert naps  # it retried (2.4.0: 5 retries, each restarting from byte 0 below 10 MiB) before giving up
    assert not list((tmp_path / "cache").rglob("short.bin"))  # nothing half-written left in the cache


def test_fault_flip_downloads_wrong_bytes_under_the_right_etag(server: MirrorServer, tmp_path: Path) -> None:
    real = _content("flipped.bin")
    got = _download(server, tmp_path, "flipped.bin").read_bytes()
    assert len(got) == len(real) and got != real
    assert [i for i in range(len(real)) if got[i] != real[i]] == [len(real) // 2]
    blob = tmp_path / "cache" / "models--acme--tiny" / "blobs" / hashlib.sha256(real).hexdigest()
    assert blob.read_bytes() == got  # cached under the real sha256: only a checksum by the loader catches it


def test_bad_arguments(tree: Path) -> None:
    with pytest.raises(ValueError, match="unknown faults"):
        MirrorServer(tree, faults={"model.safetensors": "explode"})
    with pytest.raises(FileNotFoundError):
        MirrorServer(tree / "nope")
