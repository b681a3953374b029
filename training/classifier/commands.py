"""``train-classifier``: the target classifiers (and the AT / DOA baselines), resumable and torchrun-ready."""
from __future__ import annotations

import argparse
from typing import Any

from ..options import add


def _train_classifier(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train import train_classifier

    result = train_classifier(load_config(args.config), args.out, args.data, resume=args.resume, device=args.device)
    if "test_accuracy" in result:
        print(f"test accuracy {100 * result['test_accuracy']:.2f}% on {result['test_examples']} images after "
              f"{result['steps']} steps, {result['wall_seconds']:.0f} s; weights in {args.out}/model.safetensors")
    elif "stopped_at_step" in result:
        print(f"stopped at step {result['stopped_at_step']}; continue with the same command plus --resume")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train-classifier", help="train a target classifier (resumable; torchrun for several processes)",
        description="Train the classifier a config describes on CIFAR-10 or SVHN. Writes checkpoint.pt (atomic; "
        "every checkpoint_every steps, every epoch and on SIGINT/SIGTERM), metrics.jsonl, and at the end "
        "model.safetensors and result.json into --out. Several processes: torchrun --nproc_per_node=N -m training "
        "train-classifier ... (gloo on CPU, nccl on GPU).",
    )
    add(p, "--config", "--data", "--out", "--resume", "--device", config={"required": True}, data={"required": True},
        out={"required": True})
    p.set_defaults(func=_train_classifier)
