"""``craft-cafa`` and ``craft-adversarial``: a denoiser's offline training data, crafted once into shards."""
from __future__ import annotations

import argparse
from typing import Any

from cafd_zoo.cli_options import one

from ..engine.stop_signal import STOPPED_EXIT
from ..options import add

SHARED = ("--classifier-run", "--classifier-config", "--data", "--out", "--shard-size", "--batch-size", "--limit",
          "--seed", "--precision", "--device")
SHARED_SETTINGS = {"classifier_run": {"required": True}, "classifier_config": {"required": True},
                   "data": {"required": True}, "out": {"required": True}, "shard_size": {"default": 1000},
                   "batch_size": {"default": 250}, "seed": {"default": 0}, "precision": {"default": "auto"},
                   "preset": {"default": "official"}}


def _craft(args: argparse.Namespace) -> int:
    """craft-cafa, and craft-adversarial (which names its --attack)."""
    from ..classifier.config import load_config
    from ..classifier.trained import classifier_weights
    from .craft_shards import craft_shards
    from .shard_attacks import training_attack

    attack, preset, steps = None, args.preset, one(args.steps, "--steps")
    if getattr(args, "attack", None):
        attack = training_attack(args.attack, preset=args.preset, steps=steps, binary_search_steps=args.search_steps,
                                 confidence=args.confidence, eps=one(args.eps, "--eps"), step_size=args.step_size)
        preset, steps = "official", None
    result = craft_shards(classifier_weights(args.classifier_run), load_config(args.classifier_config), args.data,
                          args.out, preset=preset, steps=steps, shard_size=args.shard_size,
                          batch_size=args.batch_size, limit=args.limit, seed=args.seed, precision=args.precision,
                          device=args.device, attack=attack)
    if result["stopped"]:
        print(f"stopped after {result['crafted_shards']} new shard(s); run the same command again to continue")
        return STOPPED_EXIT
    else:
        print(f"{args.out}: all {result['num_shards']} shards present ({result['crafted_shards']} crafted now)")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "craft-cafa", help="craft the offline CAFA copy of a training set, in resumable shards",
        description="Run CAFA (paper Algorithm 1) against a trained classifier on every training image, as the "
        "official code does before denoiser training, and store the results as uint8 shards with their provenance "
        "(classifier sha256, preset, seed). Running the same command again continues after the last whole shard.",
    )
    add(p, *SHARED, "--preset", "--steps", **SHARED_SETTINGS)
    p.set_defaults(func=_craft)

    p = sub.add_parser(
        "craft-adversarial", help="craft the offline CAFA, CW-L2 or PGD copy of a training set, in resumable shards",
        description="craft-cafa for any training attack: CAFA (CAFD's data), non-targeted CW-L2 (the HGD and APE-G "
        "baselines' data, paper Table 1) or L-inf PGD (their primed variants, Table 3), against a trained classifier, "
        "stored as uint8 shards whose provenance records the attack and every parameter. Running the same command "
        "again continues after the last whole shard. Defaults: CAFA's preset; PGD eps 8, step 2, 20 steps; CW-L2 "
        "100 iterations per search step, 4 search steps, kappa 1.",
    )
    add(p, "--attack", *SHARED, "--steps", "--preset", "--eps", "--step-size", "--search-steps", "--confidence",
        attack={"required": True, "choices": ["cafa", "cw_l2", "pgd"]}, **SHARED_SETTINGS)
    p.set_defaults(func=_craft)
