"""What a fault-and-abuse review broke in the load path (issue 16, items 1, 2, 5 and 6), each held by a test:
a user's file is never deleted, a loaded model does not depend on its file, a silent Hub costs a bounded
time, and malformed manifests or racing evictions give the zoo's own errors."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import cafd_zoo
from cafd_zoo.cli import main as cafd_main
from cafd_zoo.errors import IntegrityError, ManifestError, WeightsUnavailableError
from cafd_zoo.integrity import load_verified
from cafd_zoo.manifest import load_manifest

from ..tiny_zoo import NAME, TinyZoo, build_tiny_zoo

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def zoo(tmp_path) -> TinyZoo:
    return build_tiny_zoo(tmp_path)


def _flip_middle_byte(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


# ---- item 1: a user's weights file is never deleted -----------------------------------------------------


def test_a_damaged_file_in_a_weights_dir_named_snapshots_is_refused_not_deleted(zoo, tmp_path):
    """The old code took any path with a 'snapshots' folder for an HF-cache file and deleted it and its
    symlink target; cache membership is now decided by where the file came from."""
    outside = tmp_path / "elsewhere" / "model.safetensors"
    outside.parent.mkdir()
    real = next(zoo.export_dir.glob("test-org/tiny-dunet/model.safetensors"))
    outside.write_bytes(real.read_bytes())
    damaged = _flip_middle_byte(outside)
    weights_dir = tmp_path / "snapshots" / "weights"
    shutil_tree = weights_dir / "test-org"
    (shutil_tree / "tiny-dunet").mkdir(parents=True)
    (shutil_tree / "tiny-resnet20").mkdir()
    (shutil_tree / "tiny-dunet" / "model.safetensors").symlink_to(outside)
    (shutil_tree / "tiny-resnet20" / "model.safetensors").write_bytes(
        next(zoo.export_dir.glob("test-org/tiny-resnet20/model.safetensors")).read_bytes())
    with pytest.raises(IntegrityError, match="Replace the file with the released one") as caught:
        cafd_zoo.load(NAME, manifest=zoo.manifest(), weights_dir=weights_dir)
    assert "re-download" not in str(caught.value)
    assert (shutil_tree / "tiny-dunet" / "model.safetensors").is_symlink() and outside.read_bytes() == damaged


def test_eviction_never_reaches_outside_the_hf_cache(tmp_path):
    from cafd_zoo.weight_sources import WeightFile

    cache, outside = tmp_path / "cache", tmp_path / "outside.bin"
    (cache / "models--o--n" / "snapshots" / "c").mkdir(parents=True)
    outside.write_bytes(b"user data")
    link = cache / "models--o--n" / "snapshots" / "c" / "model.safetensors"
    link.symlink_to(outside)
    WeightFile(link, "hf_cache", cache).evict()
    assert not link.exists() and not link.is_symlink() and outside.read_bytes() == b"user data"


# ---- item 2: the weights in memory are the bytes that were hashed, owned by the process -----------------


def test_a_loaded_model_is_independent_of_its_file(zoo, tmp_path):
    """Rewriting the file in place, then truncating it, changes nothing in a loaded model (the old mmap
    load changed outputs silently, then died of SIGBUS). Run in a child, so a crash is a failure, not the end."""
    code = f"""
import sys, torch, cafd_zoo
from cafd_zoo.manifest import load_manifest
from pathlib import Path
m = cafd_zoo.load({NAME!r}, manifest=load_manifest({str(zoo.manifest_path)!r}), weights_dir={str(zoo.export_dir)!r})
x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
with torch.no_grad(): before = m(x)
for f in Path({str(zoo.export_dir)!r}).rglob("model.safetensors"):
    size = f.stat().st_size
    with open(f, "r+b") as h:
        h.seek(size // 3); h.write(bytes(size - size // 3))
with torch.no_grad(): rewritten = m(x)
for f in Path({str(zoo.export_dir)!r}).rglob("model.safetensors"):
    with open(f, "r+b") as h: h.truncate(16)
with torch.no_grad(): truncated = m(x)
sys.exit(0 if torch.equal(before, rewritten) and torch.equal(before, truncated) else 3)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])


def test_loaded_tensors_are_writable_private_copies(zoo):
    model = cafd_zoo.load(NAME, manifest=zoo.manifest(), weights_dir=zoo.export_dir)
    param = next(model.parameters())
    with torch.no_grad():
        param.add_(1.0)  # fine-tuning writes in place; it must not touch (or be refused by) a shared buffer
    assert param.dtype == torch.float32


def test_a_folder_where_a_weights_file_should_be_is_one_clear_error(tmp_path):
    (tmp_path / "model.safetensors").mkdir()
    with pytest.raises(IntegrityError, match="is a folder, not a weights file"):
        load_verified(tmp_path / "model.safetensors", "0" * 64, 10)


# ---- item 5: a Hub that accepts the connection and never answers costs a bounded time -------------------


@pytest.fixture
def silent_server():
    """Accepts every connection and never sends a byte (bounded: it stops with the test)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_hub_fails_after_the_configured_timeout(zoo, tmp_path, silent_server, monkeypatch):
    monkeypatch.setenv("CAFD_HUB_TIMEOUT", "1.5")
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError, match=r"sent nothing for 1.5 s.*CAFD_HUB_TIMEOUT"):
        cafd_zoo.load(NAME, manifest=zoo.manifest(), endpoint=silent_server, cache_dir=tmp_path / "cache")
    assert time.monotonic() - start < 15  # huggingface_hub alone waits about 6.6 minutes


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_meaningless_hub_timeout_is_refused(zoo, tmp_path, monkeypatch, value):
    monkeypatch.setenv("CAFD_HUB_TIMEOUT", value)
    with pytest.raises(WeightsUnavailableError, match="CAFD_HUB_TIMEOUT=.*positive number of seconds"):
        cafd_zoo.load(NAME, manifest=zoo.manifest(), endpoint="http://127.0.0.1:9", cache_dir=tmp_path / "cache")


# ---- item 6: small ones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["sha256", "repo_id", "revision", "filename"])
def test_a_trailing_newline_in_a_manifest_field_fails_the_schema(zoo, field):
    data = json.loads(zoo.manifest_path.read_text())
    data["weights"]["tiny_dunet"][field] += "\n"
    zoo.manifest_path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=f"fails its schema at weights/tiny_dunet/{field}"):
        load_manifest(zoo.manifest_path)


def test_bad_builder_arguments_in_a_manifest_are_a_manifest_error(zoo):
    data = json.loads(zoo.manifest_path.read_text())
    data["weights"]["tiny_dunet"]["arguments"]["no_such_argument"] = 1
    zoo.manifest_path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="'tiny_dunet' cannot be built as dunet.*Fix the manifest"):
        cafd_zoo.load(NAME, manifest=load_manifest(zoo.manifest_path), weights_dir=zoo.export_dir)
    with pytest.raises(ManifestError, match="cannot be built"):
        cafd_zoo.load(NAME, manifest=load_manifest(zoo.manifest_path), pretrained=False)


def test_a_deeply_nested_manifest_is_one_manifest_error(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ManifestError, match="nests too deeply"):
        load_manifest(tmp_path / "deep.json")


def test_a_file_evicted_by_another_process_between_locate_and_read_is_located_again(zoo, monkeypatch):
    real, calls = cafd_zoo.hub.load_verified, []

    def vanishes_once(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise FileNotFoundError(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(cafd_zoo.hub, "load_verified", vanishes_once)
    cafd_zoo.load(NAME, manifest=zoo.manifest(), weights_dir=zoo.export_dir)
    assert len(calls) == 3  # two files, one of them read twice

    monkeypatch.setattr(cafd_zoo.hub, "load_verified",
                        lambda path, *a, **k: (_ for _ in ()).throw(FileNotFoundError(path)))
    with pytest.raises(WeightsUnavailableError, match="disappeared while it was being loaded, twice"):
        cafd_zoo.load(NAME, manifest=zoo.manifest(), weights_dir=zoo.export_dir)


def test_cafd_download_honours_the_weights_dir(zoo, monkeypatch, capsys):
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: any network use would fail
    assert cafd_main(["download", NAME]) == 0
    out = capsys.readouterr().out
    assert out.count(str(zoo.export_dir)) == 2 and "sha256 verified" in out


def test_the_suite_sets_its_own_environment():
    """A user's HF_HUB_OFFLINE / HF_ENDPOINT / CAFD_* variables must not change what the tests see."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_ENDPOINT="http://127.0.0.1:9", CAFD_WEIGHTS_DIR="/nonexistent",
               CAFD_RELEASE_STORE="/nonexistent", CAFD_MANIFEST="/nonexistent.json", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/package/test_hub.py::"
                           "test_export_serve_load_gives_identical_outputs_then_works_offline"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
