"""``train-denoiser`` and ``finetune-denoiser``: CAFD's denoiser (and the HGD / APE-G baselines)."""
from __future__ import annotations

import argparse
from typing import Any

from ..engine.stop_signal import STOPPED_EXIT
from ..options import add

RUN = ("--config", "--classifier-run", "--classifier-config", "--cafa-dir", "--data", "--out", "--resume", "--device")
RUN_SETTINGS = {"config": {"required": True}, "classifier_run": {"required": True},
                "classifier_config": {"required": True}, "data": {"required": True}, "out": {"required": True}}


def _train_denoiser(args: argparse.Namespace) -> int:
    from ..classifier.config import load_config
    from ..classifier.trained import classifier_weights
    from .config_file import load_denoiser_config
    from .train import train_denoiser

    result = train_denoiser(load_denoiser_config(args.config), args.out, args.data,
                            classifier_weights(args.classifier_run), load_config(args.classifier_config),
                            cafa_dir=args.cafa_dir, resume=args.resume, device=args.device,
                            init_denoiser=getattr(args, "init", None))
    if "stopped_at_step" in result:
        print(f"stopped at step {result['stopped_at_step']}; continue with the same command plus --resume")
        return STOPPED_EXIT
    elif "wall_seconds" in result:  # the main process's result
        print(f"{result['steps']} steps, {result['wall_seconds']:.0f} s; probe accuracy {result['probe_accuracy']}; "
              f"weights in {args.out}/denoiser.safetensors")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train-denoiser",
        help="train the CAFD denoiser (or the HGD / APE-G baseline) against a frozen classifier "
        "(resumable; torchrun-ready)",
        description="Train DUNET with the class activation feature loss and RaGAN (paper Algorithm 2) as a denoiser "
        "config describes (training/configs/denoiser/). Writes checkpoint.pt, metrics.jsonl, and at the end "
        "denoiser.safetensors and result.json into --out. An offline config reads craft-cafa shards (--cafa-dir); "
        "one with `adversarial_source: adaptive` crafts PGD through the denoiser and the classifier for every batch "
        "instead (no --cafa-dir). A config with `method: hgd` or `method: ape_g` trains the "
        "HGD or APE-G baseline instead, on craft-adversarial shards (--adversarial-dir).",
    )
    add(p, *RUN, **RUN_SETTINGS)
    p.set_defaults(func=_train_denoiser)

    p = sub.add_parser(
        "finetune-denoiser", help="adapt a released (or earlier) denoiser to another classifier or data set",
        description="train-denoiser, starting from the weights of --init instead of random ones: a released "
        "denoiser by zoo name (downloaded and sha256-checked through cafd_zoo.load; a defended release gives its "
        "denoiser) or the denoiser.safetensors of an earlier run. The config's denoiser architecture must match it; "
        "its schedule, losses and data decide the fine-tuning.",
    )
    add(p, "--init", *RUN, init={"required": True}, **RUN_SETTINGS)
    p.set_defaults(func=_train_denoiser)
