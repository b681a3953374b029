"""cafd predict: image files in, classes out, with and without the defense; bad files get one clear error."""
from __future__ import annotations

from PIL import Image

from cafd_zoo.cli import main

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
