"""Checkpoints carry a checksum of what they hold, a full disk during a save is one clear error with the old
checkpoint intact, and a run restarted before its first checkpoint logs each step once."""
from __future__ import annotations

import errno
import os
import zipfile

import pytest
import torch

from cafd_zoo.metrics_log import read_metrics
from training.classifier import train as train_classifier_module
from training.engine.checkpoint import CheckpointError, load_checkpoint, previous_path, save_checkpoint
from training.classifier.train import train_classifier

from .test_train_classifier import TINY, data  # noqa: F401  (data is a fixture)


def _flip_one_bit_in_tensor_data(path, name_part: str = "data/") -> None:
    """Flip a bit inside a stored tensor's bytes, as a failing disk would: the zip stays readable."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if name_part in i.filename and i.file_size >= 64)
    raw = bytearray(path.read_bytes())
    with open(path, "rb") as f:  # the record's data starts after its local header
        f.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
    raw[info.header_offset + 30 + name_len + extra_len + 17] ^= 0x04
    path.write_bytes(bytes(raw))


def test_a_flipped_bit_in_a_tensor_is_refused_with_the_remedy(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"step": 1, "w": torch.arange(1000, dtype=torch.float32)})
    save_checkpoint(path, {"step": 2, "w": torch.arange(1000, dtype=torch.float32) * 2})
    _flip_one_bit_in_tensor_data(path)
    with pytest.raises(CheckpointError, match="checksum") as excinfo:
        load_checkpoint(path)
    assert f"mv {previous_path(path)} {path}" in str(excinfo.value) and "\n" not in str(excinfo.value)
    os.replace(previous_path(path), path)
    assert load_checkpoint(path)["step"] == 1


def test_a_checkpoint_without_a_checksum_still_loads(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": 1, "step": 7, "w": torch.ones(3)}, path)  # what save_checkpoint wrote before checksums
    with pytest.warns(UserWarning, match="no checksum"):
        state = load_checkpoint(path)
    assert state["step"] == 7 and torch.equal(state["w"], torch.ones(3))


def test_the_checksum_is_not_part_of_the_state_handed_back(tmp_path):
    state = {"format": 1, "step": 3, "nested": {"a": [1, 2.5, "x", None], "t": torch.zeros(2, dtype=torch.bfloat16)}}
    save_checkpoint(tmp_path / "c.pt", state)
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded.keys() == state.keys() and loaded["nested"]["a"] == [1, 2.5, "x", None]


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     RuntimeError("[enforce fail at inline_container.cc] . PytorchStreamWriter "
                                                  "failed writing file data/0: file write failed")])
def test_a_full_disk_during_save_is_one_clear_line_and_the_old_checkpoint_stays(tmp_path, monkeypatch, failure):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"step": 1, "w": torch.arange(1000)})
    real_save = torch.save

    def disk_fills_up(obj, f, *args, **kwargs):
        real_save(obj, f)
        f.truncate(f.tell() // 2)
        raise failure

    monkeypatch.setattr(torch, "save", disk_fills_up)
    with pytest.raises(CheckpointError) as excinfo:
        save_checkpoint(path, {"step": 2, "w": torch.arange(1000) * 2})
    message = str(excinfo.value)
    assert "\n" not in message and str(path) in message and "intact" in message and "--resume" in message
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_a_run_restarted_before_its_first_checkpoint_logs_each_step_once(data, tmp_path, monkeypatch):  # noqa: F811
    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the run dies before any checkpoint reaches the disk

    monkeypatch.setattr(train_classifier_module, "save_checkpoint", killed)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(TINY, tmp_path / "run", data, stop_after_steps=3)
    assert [r["step"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "loss" in r] == [1, 2, 3]
    monkeypatch.undo()
    train_classifier(TINY, tmp_path / "run", data)  # no checkpoint, so a fresh start, as the message says
    steps = [r["step"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "loss" in r]
    assert steps == list(range(1, 9))
