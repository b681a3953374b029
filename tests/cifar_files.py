"""Synthetic CIFAR-10 and helpers in the official file formats (binary and python versions), for any test."""
from __future__ import annotations

import pickle

import numpy as np


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_binary_cifar(folder, n_per_batch=4):
    folder.mkdir(parents=True)
    truth = {}
    for i, name in enumerate(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                              "test_batch"]):
        x, y = synthetic(n_per_batch, i)
        records = np.concatenate([y[:, None], x.reshape(n_per_batch, -1)], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
        truth[name] = (x, y)
    return truth


def write_python_cifar(folder, n_per_batch=4):
    folder.mkdir(parents=True)
    truth = {}
    for i, name in enumerate(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                              "test_batch"]):
        x, y = synthetic(n_per_batch, 10 + i)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": x.reshape(n_per_batch, -1), b"labels": y.tolist(), b"batch_label": b"synthetic"},
                        f, protocol=2)
        truth[name] = (x, y)
    return truth
