"""``python -m training <command>``: the commands that make and publish weights."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from cafd_zoo.errors import ZooError

from .publish import publish


def _publish(args: argparse.Namespace) -> int:
    commits = publish(args.release, args.export_dir, args.manifest, mirror_root=args.mirror_root)
    for weights_id, commit in commits.items():
        print(f"{weights_id}: published at commit {commit}")
    print(f"{args.manifest}: {args.release} is now published with pinned revisions")
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train_classifier import train_classifier

    result = train_classifier(load_config(args.config), args.out, args.data, resume=args.resume, device=args.device)
    if "test_accuracy" in result:
        print(f"test accuracy {100 * result['test_accuracy']:.2f}% on {result['test_examples']} images after "
              f"{result['steps']} steps, {result['wall_seconds']:.0f} s; weights in {args.out}/model.safetensors")
    elif "stopped_at_step" in result:
        print(f"stopped at step {result['stopped_at_step']}; continue with the same command plus --resume")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Make, export and publish CAFD zoo weights.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "publish", help="upload an exported release to the Hub (or a mirror folder) and pin its commits",
        description="Upload each Hub repository folder of an exported release with huggingface_hub.HfApi "
        "(token from HF_TOKEN or `hf auth login`), or copy it into a mirror folder, then record the commit each "
        "upload produced as the pinned revision in the manifest and mark the release published.",
    )
    p.add_argument("release", help="the release name, as in the manifest")
    p.add_argument("--export-dir", required=True, help="the folder export wrote (holds <repo_id>/ folders)")
    p.add_argument("--manifest", default="weights_manifest.json", help="manifest to update (default: ./weights_manifest.json)")
    p.add_argument("--mirror-root", help="copy into this mirror folder (served by `cafd mirror serve`) instead of uploading")
    p.set_defaults(func=_publish)

    p = sub.add_parser(
        "train-classifier", help="train a target classifier (resumable; torchrun for several processes)",
        description="Train the classifier a config describes on CIFAR-10 or SVHN. Writes checkpoint.pt (atomic; "
        "every checkpoint_every steps, every epoch and on SIGINT/SIGTERM), metrics.jsonl, and at the end "
        "model.safetensors and result.json into --out. Several processes: torchrun --nproc_per_node=N -m training "
        "train-classifier ... (gloo on CPU, nccl on GPU).",
    )
    p.add_argument("--config", required=True, help="a YAML file from training/configs/")
    p.add_argument("--data", required=True, help="data folder (CIFAR-10: holds cifar-10-batches-bin/ or -py/; SVHN: *_32x32.mat)")
    p.add_argument("--out", required=True, help="run folder for checkpoint, log and weights")
    p.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: this process's GPU if any, else cpu)")
    p.set_defaults(func=_train_classifier)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ZooError, ValueError, OSError) as exc:
        print(f"python -m training: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
