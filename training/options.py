"""The options only ``python -m training`` takes, each declared once with its type (the ones it shares with
``cafd`` are :data:`cafd_zoo.cli_options.OPTIONS`). A command picks flags from both with :func:`add`."""
from __future__ import annotations

import argparse
from typing import Any

from cafd_zoo.cli_options import OPTIONS as SHARED
from cafd_zoo.cli_options import Option, add_options, budgets_255, one


def budget_255(text: str) -> float:
    """``2`` -> 2/255: one L-inf quantity written in units of 1/255."""
    return one(budgets_255(text), "a budget")


def numbers(text: str) -> list[float]:
    """``0,0.01,1`` -> [0.0, 0.01, 1.0]."""
    try:
        return [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers such as 0,0.01,1, got {text!r}") from None


TRAINING_OPTIONS: dict[str, Option] = {
    "--config": Option("the run's YAML config: a file from training/configs/ (classifiers) or "
                       "training/configs/denoiser/"),
    "--classifier-run": Option("a train-classifier --out folder (holds model.safetensors), or a zoo classifier "
                               "release such as resnet20_cifar10"),
    "--classifier-config": Option("the YAML config that classifier was trained with"),
    "--classifier": Option("the classifier release to put behind the denoiser, e.g. resnet20_cifar10"),
    "--denoiser-release": Option("the release whose denoiser to reuse, e.g. cafd_denoiser_cifar10"),
    "--denoiser": Option("a train-denoiser denoiser.safetensors (or a zoo release) to put in front"),
    "--cafa-dir": Option("the craft-cafa / craft-adversarial shard folder (for configs with adversarial_source: "
                         "offline; HGD and APE-G configs need one of their training_attack; online and adaptive "
                         "configs craft for every batch and take none)",
                         aliases=("--adversarial-dir",)),
    "--init": Option("the denoiser to start from: a zoo release name (e.g. cafd_denoiser_cifar10) or a "
                     "denoiser.safetensors file"),
    "--limit": Option("only the first N training images", {"type": int}),
    "--preset": Option("CAFA's preset: official (100 steps of 0.01 from a uniform start) or paper (Algorithm 1)",
                       {"choices": ["official", "paper"]}),
    "--step-size": Option("PGD's step, in units of 1/255", {"type": budget_255}),
    "--search-steps": Option("CW-L2: binary-search steps over the constant c", {"type": int}),
    "--confidence": Option("CW-L2: margin kappa", {"type": float}),
    "--run": Option("the finished run folder to export (train-classifier or train-denoiser --out)"),
    "--epoch": Option("export-classifier: the weights kept at the end of this epoch (RUN/epochs/, written by runs "
                      "with robust_probe_images) instead of the final ones: the early stop of a fast adversarial "
                      "training that collapsed; its clean error is the one that epoch measured", {"type": int}),
    "--results": Option("evaluate's results file for --release (becomes the metrics; repeat for several)",
                        {"action": "append"}),
    "--weights-id": Option("the denoiser file's manifest key (default: the release's, else dunet<width>_<name>, "
                           "apegan<width>_<name> for APE-G)"),
    "--command": Option("a command of the recipe, in order (repeat); recorded as provenance", {"action": "append"}),
    "--manifest": Option("the manifest to update"),
    "--repo-id": Option("Hugging Face repository (org/name); without it the file ships in the package"),
    "--dtype": Option("stored precision", {"choices": ["float32", "float16", "bfloat16"]}),
    "--machine": Option("the machine the run (or its evaluation) used, for the record"),
    "--code-commit": Option("the commit the run used (default: the one in result.json)"),
    "--summary": Option("one sentence for the manifest and model card (default: the manifest's, else architecture "
                        "and data set)"),
    "--export-dir": Option("the folder export wrote (holds <repo_id>/ folders), or a release store"),
    "--store": Option("the release store that holds the release (e.g. hub/): its model cards are rewritten, its "
                      "new commits pinned"),
    "--mirror-root": Option("copy into this mirror folder (served by `cafd mirror serve`) instead of uploading"),
    "--prune": Option("with --mirror-root: remove each published repository's other commit folders, so a release "
                      "store keeps only the files its releases use", {"action": "store_true"}),
    "--table": Option("1: releases x attacks under one threat model; 2: each target model without and with its "
                      "defense (bare vs oblivious rows); 3: defended models under adaptive threat models; robust: a "
                      "robust classifier alone and behind denoisers, worst case first (issue 14). Missing cells: —",
                      {"choices": ["1", "2", "3", "robust"]}),
    "--paper": Option("tables 1-3: follow each row the paper published with the paper's values (training/paper/"
                      "published.py), so ours and theirs read side by side", {"action": "store_true"}),
    "--label": Option("tables 2 and 3: RELEASE=TARGET:DEFENSE, e.g. cafd_vgg19_cifar10=VGG-19:CAFD (default: read "
                      "from the release name); repeat for several", {"action": "append"}),
    "--cw-const": Option("cw_l2's constants c, comma-separated", {"type": numbers}),
    "--cw-steps": Option("cw_l2's Adam iterations at each c", {"type": int}),
    "--eps-min": Option("Figure 6: smallest eps drawn, in units of 1/255", {"type": budget_255}),
    "--eps-max": Option("Figure 6: largest eps drawn, in units of 1/255", {"type": budget_255}),
    "--distance": Option("Figure 3: the official MSE of normalised Phi, or the L2 norm of raw Phi",
                         {"choices": ["caf_distance", "caf_l2"]}),
}
assert not set(TRAINING_OPTIONS) & set(SHARED), "a flag is declared in both tables"
ALL = {**SHARED, **TRAINING_OPTIONS}


def add(parser: argparse.ArgumentParser, *flags: str, **settings: Any) -> None:
    """Add ``flags`` (from either table) to ``parser``; ``settings`` as :func:`cafd_zoo.cli_options.add_options`."""
    add_options(parser, ALL, *flags, **settings)
