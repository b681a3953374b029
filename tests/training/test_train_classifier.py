"""train-classifier on a tiny synthetic CIFAR folder: end to end, kill + resume, torchrun with 2 processes."""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from training.__main__ import main as training_main
from training.classifier.config import ClassifierConfig, load_config
from training.engine.lr_schedule import Schedule
from cafd_zoo.metrics_log import read_metrics
from training.classifier.train import train_classifier

from ..cifar_files import write_binary_cifar

REPO = Path(__file__).resolve().parents[2]
TINY = ClassifierConfig(architecture="resnet20", dataset="cifar10", epochs=2, batch_size=8, lr=0.05,
                        schedule=Schedule("onecycle", warmup=0.25), checkpoint_every=1000, log_every=1,
                        eval_batch_size=16, check_md5=False, precision="fp32")


@pytest.fixture
def data(tmp_path) -> Path:
    write_binary_cifar(tmp_path / "data" / "cifar-10-batches-bin", n_per_batch=6)  # 30 train, 6 test images
    return tmp_path / "data"


def test_runs_end_to_end_and_writes_its_outputs(data, tmp_path):
    result = train_classifier(TINY, tmp_path / "run", data)
    assert result["steps"] == 2 * 4 and 0 <= result["test_accuracy"] <= 1
    assert set(load_file(str(tmp_path / "run" / "model.safetensors"))) >= {"fc.weight", "conv1.weight"}
    records = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 9))
    assert json.loads((tmp_path / "run" / "result.json").read_text())["steps"] == 8
    with pytest.raises(FileExistsError, match="--resume"):
        train_classifier(TINY, tmp_path / "run", data)


@pytest.mark.parametrize("stop_at", [3, 4, 6])  # mid-epoch, at the epoch boundary, mid-epoch 2
def test_a_killed_run_resumes_to_the_same_weights(data, tmp_path, stop_at):
    train_classifier(TINY, tmp_path / "whole", data)
    assert train_classifier(TINY, tmp_path / "killed", data, stop_after_steps=stop_at) == {"stopped_at_step": stop_at}
    result = train_classifier(TINY, tmp_path / "killed", data, resume=True)
    assert result["steps"] == 8
    whole, resumed = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("whole", "killed"))
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    losses = [r["step"] for r in read_metrics(tmp_path / "killed" / "metrics.jsonl") if "loss" in r]
    assert losses == list(range(1, 9))  # every step logged once


def test_resume_refuses_another_config(data, tmp_path):
    train_classifier(TINY, tmp_path / "run", data, stop_after_steps=2)
    with pytest.raises(ValueError, match="another config"):
        train_classifier(dataclasses.replace(TINY, lr=0.1), tmp_path / "run", data, resume=True)


def test_command_line_and_configs(data, tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\nbatch_size: 16\ncheck_md5: false\n"
                      "precision: fp32\nschedule: {kind: multistep, milestones: [1], gamma: 0.2}\n")
    assert training_main(["train-classifier", "--config", str(config), "--data", str(data),
                          "--out", str(tmp_path / "cli")]) == 0
    assert "test accuracy" in capsys.readouterr().out
    config.write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['learning_rate'\]"):
        load_config(config)
    for shipped in sorted((REPO / "training" / "configs").glob("*.yaml")):
        assert isinstance(load_config(shipped), ClassifierConfig)


def test_torchrun_two_processes_agree(data, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text("architecture: resnet20\ndataset: cifar10\nepochs: 1\nbatch_size: 4\ncheck_md5: false\n"
                      "precision: fp32\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    with socket.socket() as probe:  # torchrun's --master_port=0 hangs with the static rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={port}", "-m", "training",
         "train-classifier", "--config", str(config), "--data", str(data), "--out", str(tmp_path / "ddp")],
        env=env, capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "ddp" / "result.json").read_text())
    assert result["world_size"] == 2 and result["steps"] == 4  # 30 images padded to 32, 16 per rank, batch 4
    first, second = result["rank_fingerprints"]
    assert first == second  # both ranks ended with bit-identical weights
