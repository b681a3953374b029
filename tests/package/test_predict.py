"""cafd predict: image files in, classes out, with and without the defense; bad files get one clear error."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from cafd_zoo.cli import main
from cafd_zoo.predict import ImageFileError, read_image

from ..tiny_zoo import NAME, build_tiny_zoo


def test_predict_prints_both_answers_and_refuses_bad_files(tmp_path, monkeypatch, capsys):
    zoo = build_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "red.png")
    Image.new("RGB", (64, 48), (30, 30, 200)).save(tmp_path / "big.png")
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    assert main(["predict", NAME, str(tmp_path / "red.png")]) == 0
    out = capsys.readouterr().out
    assert "red.png: defended:" in out and "bare:" in out and "%)" in out
    assert main(["predict", NAME, str(tmp_path / "big.png")]) == 1
    assert "is 64x48 pixels; the model takes 32x32" in capsys.readouterr().err
    assert main(["predict", NAME, "--resize", str(tmp_path / "big.png"), str(tmp_path / "red.png")]) == 0
    assert capsys.readouterr().out.count("defended:") == 2
    assert main(["predict", NAME, str(tmp_path / "broken.png")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["predict", NAME, str(tmp_path / "missing.png")]) == 1


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG whose header claims width x height pixels, with no real pixel data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_16_bit_png_is_scaled_by_its_bit_depth(tmp_path):
    Image.fromarray(np.full((32, 32), 32768, dtype=np.uint16)).save(tmp_path / "grey16.png")
    x = read_image(tmp_path / "grey16.png")
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert torch.allclose(x, torch.full_like(x, 32768 / 65535))


def test_float_tiff_in_0_1_is_read_as_is_and_others_are_refused(tmp_path):
    Image.fromarray(np.full((32, 32), 0.5, dtype=np.float32)).save(tmp_path / "half.tiff")
    x = read_image(tmp_path / "half.tiff")
    assert x.shape == (3, 32, 32) and torch.allclose(x, torch.full_like(x, 0.5))
    Image.fromarray(np.full((32, 32), 200.0, dtype=np.float32)).save(tmp_path / "hdr.tiff")
    with pytest.raises(ImageFileError, match=r"float image with values outside \[0, 1\]"):
        read_image(tmp_path / "hdr.tiff")


def test_decompression_bomb_header_is_one_clear_error(tmp_path, capsys):
    _png_header_only(tmp_path / "bomb.png", 50_000, 50_000)
    with pytest.raises(ImageFileError, match="bomb.png"):
        read_image(tmp_path / "bomb.png", resize=True)
    assert main(["predict", "resnet20_cifar10", str(tmp_path / "bomb.png"), "--resize"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bomb.png" in err


def test_huge_image_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    _png_header_only(tmp_path / "huge.png", 8000, 8000)  # 64 Mpixel: under PIL's bomb limit
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded a huge image"))
    with pytest.raises(ImageFileError, match="8000x8000 pixels"):
        read_image(tmp_path / "huge.png", resize=True)
    with pytest.raises(ImageFileError, match="8000x8000 pixels"):
        read_image(tmp_path / "huge.png")


@pytest.mark.parametrize("device", ["garbage", "cuda:99", "cpu:7x"])
def test_a_device_that_cannot_work_is_refused_before_loading(device, monkeypatch, capsys, tmp_path):
    import cafd_zoo.hub

    monkeypatch.setattr(cafd_zoo.hub, "load", lambda *a, **k: pytest.fail("loaded a model for an unusable device"))
    Image.new("RGB", (32, 32)).save(tmp_path / "black.png")
    assert main(["predict", "resnet20_cifar10", str(tmp_path / "black.png"), "--device", device]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"device {device!r}" in err


def test_predict_runs_on_an_explicit_cpu_device(tmp_path, capsys):
    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "red.png")
    assert main(["predict", "resnet20_cifar10", str(tmp_path / "red.png"), "--device", "cpu"]) == 0
    assert "red.png: bare:" in capsys.readouterr().out
