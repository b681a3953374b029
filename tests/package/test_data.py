"""Data loaders on small synthetic folders in the official layouts (real data: the extended test)."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from scipy.io import savemat

from cafd_zoo.data import ImageSet, load_cifar10, load_dataset, load_svhn, random_crop_flip
from cafd_zoo.errors import DatasetError

from ..cifar_files import synthetic, write_binary_cifar, write_python_cifar


@pytest.mark.parametrize("layout", ["bin", "py"])
def test_cifar10_reads_both_official_formats(tmp_path, layout):
    truth = (write_binary_cifar if layout == "bin" else write_python_cifar)(tmp_path / f"cifar-10-batches-{layout}")
    train = load_cifar10(tmp_path, "train", check_md5=False)
    test = load_cifar10(tmp_path / f"cifar-10-batches-{layout}", "test", check_md5=False)
    assert len(train) == 20 and len(test) == 4 and train.classes[0] == "airplane"
    assert torch.equal(train.images[:4], torch.from_numpy(truth["data_batch_1"][0]))
    assert torch.equal(test.labels, torch.from_numpy(truth["test_batch"][1]).long())
    x, y = test.batch(slice(0, 2))
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1 and torch.equal(y, test.labels[:2])


def test_cifar10_rejects_damaged_and_missing_files(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    write_binary_cifar(folder)
    with pytest.raises(DatasetError, match="official MD5"):
        load_cifar10(tmp_path, "test")  # synthetic bytes are not the official file
    (folder / "test_batch.bin").write_bytes((folder / "test_batch.bin").read_bytes()[:-5])
    with pytest.raises(DatasetError, match="whole number of 3073-byte records"):
        load_cifar10(tmp_path, "test", check_md5=False)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(DatasetError, match="data_batch_3.bin is missing"):
        load_cifar10(tmp_path, "train", check_md5=False)
    with pytest.raises(DatasetError, match="get-cifar10"):
        load_cifar10(tmp_path / "nowhere", "test")
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_cifar10(tmp_path, "val")


def test_cifar10_python_batches_cannot_run_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_python_cifar(folder)

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(DatasetError, match="refusing to load"):
        load_cifar10(tmp_path, "test", check_md5=False)


def test_svhn_reads_the_official_mat_layout(tmp_path):
    x, _ = synthetic(5, 3)
    y = np.array([[10], [1], [2], [10], [9]], dtype=np.uint8)  # 10 is the digit 0
    savemat(tmp_path / "test_32x32.mat", {"X": x.transpose(2, 3, 1, 0), "y": y})
    svhn = load_svhn(tmp_path, "test", check_md5=False)
    assert torch.equal(svhn.labels, torch.tensor([0, 1, 2, 0, 9]))
    assert torch.equal(svhn.images, torch.from_numpy(x))
    assert load_dataset("svhn", tmp_path, "test", check_md5=False).classes[0] == "0"
    with pytest.raises(DatasetError, match="official MD5"):
        load_svhn(tmp_path, "test")
    with pytest.raises(DatasetError, match="train_32x32.mat is missing"):
        load_svhn(tmp_path, "train")
    savemat(tmp_path / "train_32x32.mat", {"X": x, "y": y})  # wrong axis order
    with pytest.raises(DatasetError, match=r"expected \(32, 32, 3, N\)"):
        load_svhn(tmp_path, "train", check_md5=False)
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("mnist", tmp_path, "test")


def test_crop_and_flip():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 32, 32, generator=g)
    assert torch.equal(random_crop_flip(x, padding=0, flip=False), x)
    flipped_only = random_crop_flip(x, padding=0, generator=g)
    for a, b in zip(flipped_only, x):
        assert torch.equal(a, b) or torch.equal(a, b.flip(-1))
    assert 0 < sum(not torch.equal(a, b) for a, b in zip(flipped_only, x)) < 16
    shifted = random_crop_flip(x, padding=4, flip=False, generator=g)
    padded = torch.nn.functional.pad(x, (4,) * 4)
    for i in range(16):  # every output is some 32x32 window of the zero-padded image
        windows = padded[i].unfold(1, 32, 1).unfold(2, 32, 1)  # (c, 9, 9, 32, 32)
        assert any(torch.equal(windows[:, r, c], shifted[i]) for r in range(9) for c in range(9))


def test_image_set_checks_itself():
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(torch.rand(2, 3, 32, 32), torch.zeros(2, dtype=torch.long), "x", "test", ())
    with pytest.raises(ValueError, match="labels of shape"):
        ImageSet(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), torch.zeros(3, dtype=torch.long), "x", "test", ())
    s = ImageSet(torch.zeros(5, 3, 32, 32, dtype=torch.uint8), torch.arange(5), "x", "test", ())
    assert len(s.subset(3)) == 3 and s[4][1] == 4
    with pytest.raises(ValueError, match=r"\[1, 5\]"):
        s.subset(6)


@pytest.mark.skipif(not os.environ.get("CAFD_CIFAR10_DIR"),
                    reason="extended: set CAFD_CIFAR10_DIR to a real CIFAR-10 folder")
def test_extended_real_cifar10():
    root = os.environ["CAFD_CIFAR10_DIR"]
    train, test = load_cifar10(root, "train"), load_cifar10(root, "test")
    assert (len(train), len(test)) == (50_000, 10_000)
    assert torch.equal(torch.bincount(train.labels), torch.full((10,), 5000))
    assert test.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]  # cat, ship, ship, airplane, frog, ...


def test_embedded_sample_is_the_first_1000_cifar10_test_images():
    from cafd_zoo.data import embedded_cifar10_sample

    sample = embedded_cifar10_sample()
    assert len(sample) == 1000 and sample.images.shape == (1000, 3, 32, 32)
    assert sample.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert torch.bincount(sample.labels, minlength=10).min() >= 80  # all ten classes, roughly balanced
    assert len(embedded_cifar10_sample(32)) == 32
    if os.environ.get("CAFD_CIFAR10_DIR"):  # extended: bit-identical to the real test split
        assert torch.equal(sample.images, load_cifar10(os.environ["CAFD_CIFAR10_DIR"], "test").images[:1000])


def test_embedded_sample_detects_damage(tmp_path, monkeypatch):
    from cafd_zoo.data import embedded

    damaged = tmp_path / "sample.png"
    data = bytearray(embedded.PNG_PATH.read_bytes())
    data[1000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(embedded, "PNG_PATH", damaged)
    with pytest.raises(DatasetError, match="does not match its recorded sha256"):
        embedded.embedded_cifar10_sample()
