"""Extended (opt-in, about 20 minutes on one core beside a training job): the robust recipe of issue 14 run end
to end, every step for real, on a tiny synthetic training set, before its hours-long run. It once found
pyautoattack failing on channels_last inputs, which only a robust model reaches (APGD-T runs on what APGD-CE
could not break).

    CAFD_CIFAR10_DIR=DIR python -m pytest -q tests/training/test_recipe_smoke.py

DIR holds the real cifar-10-batches-bin/: evaluate reads the real, MD5-checked test split; the trainers read a
synthetic training split of 200 images with the MD5 check off.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cafd_zoo.integrity import sha256_of
from training.release.result_metrics import metrics_from_files

from ..cifar_files import write_binary_cifar

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "training" / "configs"
REAL = os.environ.get("CAFD_CIFAR10_DIR")
TINY = {"epochs": "1", "batch_size": "16"}


def _tiny_copy(config: Path, out: Path, extra: dict[str, str]) -> Path:
    text = config.read_text()
    for key, value in (TINY | extra).items():
        text, count = re.subn(rf"^{key}:.*$", f"{key}: {value}", text, flags=re.M)
        if not count:
            text += f"{key}: {value}\n"
    out.write_text(text + "check_md5: false\n")
    return out


@pytest.mark.skipif(not REAL, reason="extended: set CAFD_CIFAR10_DIR to a real CIFAR-10 folder")
def test_the_robust_recipe_runs_every_step_on_a_tiny_training_set(tmp_path):
    data = tmp_path / "data" / "cifar-10-batches-bin"
    write_binary_cifar(data, n_per_batch=40)
    shutil.copyfile(Path(REAL) / "cifar-10-batches-bin" / "test_batch.bin", data / "test_batch.bin")
    denoiser = {"schedule": "{kind: multistep, milestones: [1], gamma: 0.3}", "eval_examples": "16"}
    env = {**os.environ, "DATA": str(tmp_path / "data"), "RUNS": str(tmp_path / "runs"), "PY": sys.executable,
           "N": "8", "SWEEP_N": "8", "SQUARE_N": "8", "ARCH": "resnet20", "OMP_NUM_THREADS": "1",
           "CLASSIFIER_CONFIG": str(_tiny_copy(CONFIGS / "resnet20_cifar10_fastat.yaml", tmp_path / "c.yaml",
                                               {"robust_probe_images": "16"})),
           "DENOISER_CONFIG": str(_tiny_copy(CONFIGS / "denoiser/cafd_denoiser_at_cifar10_compact.yaml",
                                             tmp_path / "d.yaml", denoiser)),
           "ADAPTIVE_CONFIG": str(_tiny_copy(CONFIGS / "denoiser/cafd_denoiser_at_cifar10_compact_adaptive.yaml",
                                             tmp_path / "a.yaml", denoiser))}
    subprocess.run(["bash", "training/recipes/robust_compact_cifar10.sh"], cwd=REPO, env=env, check=True, timeout=7200)
    table = tmp_path / "runs" / "eval_robust_resnet20_cifar10" / "table.jsonl"
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    cells = {(r["release"], r["attack"], r["threat_model"]) for r in rows}
    for release, threat in [("resnet20at_cifar10", "bare"), ("cafd_resnet20at_cifar10", "whitebox"),
                            ("cafd_resnet20at_cifar10_adaptive", "whitebox")]:
        assert {(release, a, threat) for a in ("none", "autoattack", "square", "pgd_n")} <= cells
    report = subprocess.run([sys.executable, "-m", "training", "report", "--table", "robust", str(table)], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    assert report.count("| cafd_resnet20at_cifar10") == 2 and "| resnet20at_cifar10 |" in report
    assert (tmp_path / "runs" / "resnet20at_cifar10" / "epochs" / "epoch_001.safetensors").exists()

    # the release script exports the classifier as a package file into a copy of the manifest (its defended step
    # loads that classifier through the packaged manifest, so here the metrics it would record are checked instead)
    manifest = tmp_path / "manifest.json"
    shutil.copyfile(REPO / "weights_manifest.json", manifest)
    package = tmp_path / "package"
    subprocess.run(["bash", "training/recipes/release_robust_compact_cifar10.sh", "classifier"], cwd=REPO,
                   env=env | {"BEST": "cafd_resnet20at_cifar10", "MANIFEST": str(manifest), "PACKAGE": str(package)},
                   check=True, timeout=600)
    written = json.loads(manifest.read_text())
    classifier = written["weights"]["resnet20at_cifar10"]
    assert written["releases"]["resnet20at_cifar10"]["status"] == "embedded"
    assert classifier["source"] == "package" and classifier["dtype"] == "float16"
    assert sha256_of(package / classifier["filename"]) == classifier["sha256"]
    for release in ("resnet20at_cifar10", "cafd_resnet20at_cifar10", "cafd_resnet20at_cifar10_adaptive"):
        metrics = metrics_from_files([table], release, data_flag="--data DIR", machine=None)
        assert {(m["threat_model"], m["attack"]) for m in metrics} >= {("clean", "none"), ("whitebox", "autoattack")}
