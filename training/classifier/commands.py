"""``train-classifier``: the target classifiers (and the AT / DOA baselines), resumable and torchrun-ready."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..engine.stop_signal import STOPPED_EXIT
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
        return STOPPED_EXIT
    return 0


def _import_classifier(args: argparse.Namespace) -> int:
    from .import_weights import import_classifier, low_accuracy_warning

    record = import_classifier(args.architecture, args.weights, args.out, dataset=args.dataset,
                               num_classes=args.num_classes, mean=args.mean, std=args.std,
                               strip_prefix=args.strip_prefix)
    print(f"{args.out}/model.safetensors and {args.out}/config.yaml written: use them as --classifier-run {args.out} "
          f"--classifier-config {args.out}/config.yaml")
    if "embedded_sample_accuracy" in record:
        print(f"accuracy on the first 1,000 CIFAR-10 test images: {100 * record['embedded_sample_accuracy']:.1f}%")
        warning = low_accuracy_warning(record)
        if warning:
            print(warning, file=sys.stderr)
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

    p = sub.add_parser(
        "import-classifier", help="your own trained classifier (a timm model or a zoo architecture) as a run folder",
        description="Turn a classifier you trained elsewhere into a run folder that craft-cafa, finetune-denoiser, "
        "train-denoiser, evaluate and sweep take (--classifier-run OUT --classifier-config OUT/config.yaml): "
        "model.safetensors with the zoo's keys and the normalisation inside, config.yaml, imported.json. The weights: "
        "a .safetensors file of the model's state dict, the timm model's own keys or the zoo wrapper's; pickles "
        "(.pt, .pth) are refused, as loading one can run code. A 10-class CIFAR-10 model is checked at once on the "
        "embedded test sample: near-chance accuracy usually means a missing --mean/--std.",
    )
    p.add_argument("--architecture", required=True, help="timm:<name> (e.g. timm:resnet18) or a zoo architecture "
                   "(cafd architectures lists them)")
    p.add_argument("--weights", required=True, help="the trained weights, a .safetensors state dict")
    p.add_argument("--dataset", default="cifar10", choices=["cifar10", "svhn"], help="what it was trained on")
    add(p, "--out", "--num-classes", out={"required": True}, num_classes={"default": 10})
    p.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"),
                   help="the per-channel mean the model was trained to subtract, for images in [0, 1] "
                   "(default: none, the model takes [0, 1] images as they are)")
    p.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"), help="the per-channel std, with --mean")
    p.add_argument("--strip-prefix", default="", help="drop this prefix from every key first, e.g. 'module.'")
    p.set_defaults(func=_import_classifier)
