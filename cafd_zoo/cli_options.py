"""Command-line options, each declared once with its type: one meaning per flag across every command.

``cafd`` and ``python -m training`` take their options from tables like :data:`OPTIONS` (the training tree
adds its own, disjoint table); a command picks the flags it takes with :func:`add_options` and may set
only their default, whether they are required, and their choices. Values arrive converted: budgets in
units of 1/255 come as fractions of 1, comma lists as lists.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Mapping


def names(text: str) -> list[str]:
    """``a,b`` -> ["a", "b"]: a comma-separated list."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def counts(text: str) -> list[int]:
    """``5,10`` -> [5, 10]: whole numbers, comma-separated."""
    try:
        return [int(item) for item in names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers such as 20 or 5,10,20, got {text!r}") from None


def budgets_255(text: str) -> list[float]:
    """``2,8`` -> [2/255, 8/255]: L-inf budgets written in units of 1/255, as fractions of the [0, 1] scale."""
    try:
        return [float(item) / 255 for item in names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected budgets in 1/255 such as 8 or 2,4,8, got {text!r}") from None


def one(values: list[Any] | None, flag: str) -> Any:
    """The single value of a list option in a command that takes one (None stays None)."""
    if values is None:
        return None
    if len(values) != 1:
        raise ValueError(f"{flag} takes one value in this command, got {len(values)}")
    return values[0]


@dataclass(frozen=True)
class Option:
    """A flag's one declaration: its help says what it means everywhere; ``kwargs`` fix its type or action."""

    help: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


OPTIONS: dict[str, Option] = {
    "--model": Option("a zoo release by name (`cafd list`): a defended release, or a classifier with --purifier"),
    "--purifier": Option("a baseline purifier in front of the classifier: jpeg (quality 75), jpeg_diff (kornia's "
                         "differentiable JPEG: a true white-box JPEG) or tvm (weight 0.003); jpeg:Q, jpeg_diff:Q set "
                         "the quality"),
    "--surrogate-denoiser": Option("graybox's surrogate: a zoo release with a denoiser, or (python -m training) a "
                                   "train-denoiser --out folder or its denoiser.safetensors"),
    "--source-classifier": Option("transfer's source: a zoo classifier release the attack is crafted on (e.g. "
                                  "vgg19_cifar10, the standard model an adversarially trained one replaces)"),
    "--release": Option("a release name: the one recorded in results, exported, or shown"),
    "--data": Option("the data set folder (CIFAR-10: holds cifar-10-batches-bin/ or -py/; SVHN: *_32x32.mat)"),
    "--embedded": Option("the embedded first 1,000 CIFAR-10 test images instead of --data (export-defended: the "
                         "results were computed on them)",
                         {"action": "store_true"}),
    "--n": Option("use the first N images of the test split", {"type": int}),
    "--attacks": Option("attacks by registered name, comma-separated (cafd_zoo.attacks.list_attacks())",
                        {"type": names}),
    "--attack": Option("one attack by name", {}),
    "--threat": Option("threat models, comma-separated: bare, oblivious, bpda, whitebox, graybox, transfer",
                       {"type": names}),
    "--eps": Option("L-inf budget(s) in units of 1/255, comma-separated where the command takes several",
                    {"type": budgets_255}),
    "--steps": Option("attack steps (iterations for CW-L2, STA, FWA), comma-separated where the command sweeps them; "
                      "default: each attack's own", {"type": counts}),
    "--base-eps": Option("the eps of the steps series, in units of 1/255", {"type": budgets_255}),
    "--base-steps": Option("the steps of the eps series", {"type": int}),
    "--eot": Option("average each attack gradient on a randomised defense (tvm) over N random draws (EOT, Athalye "
                    "et al. 2018); judging stays one draw", {"type": int}),
    "--seed": Option("seed of the attacks' random starts", {"type": int}),
    "--batch-size": Option("images per attack batch", {"type": int}),
    "--shard-size": Option("images per resumable unit (a results cell, a shard file)", {"type": int}),
    "--precision": Option("arithmetic of the attacks: bf16 where the machine has it natively (auto), or as named",
                          {"choices": ["auto", "bf16", "fp32"]}),
    "--device": Option("where to run: cpu, cuda, cuda:1, ... (without a default: this process's GPU if any, else "
                       "cpu)"),
    "--num-classes": Option("number of classes of the classifier(s)", {"type": int}),
    "--out": Option("what the command writes: a results file (JSON lines, appended to), a run or shard folder, "
                    "or a table or figure file"),
    "--resume": Option("continue what --out already holds (a run's checkpoint; the finished cells of a results file)",
                       {"action": "store_true"}),
    "--cache": Option("a folder that keeps the adversarial examples crafted on the bare classifier (bare, oblivious), "
                      "so every defense in front of the same classifier is judged on them without crafting again; "
                      "the results are the same as without it"),
}


def add_options(parser: argparse.ArgumentParser, table: Mapping[str, Option], /, *flags: str,
                **settings: Mapping[str, Any]) -> None:
    """Add ``flags`` from ``table``; ``settings["--n"] = {"default": 500}`` style keyword dicts (key: the flag
    without dashes, ``-`` as ``_``) may set ``default``, ``required`` and ``choices`` only."""
    for flag in flags:
        option = table[flag]
        extra = dict(settings.get(flag.lstrip("-").replace("-", "_"), {}))
        unknown = set(extra) - {"default", "required", "choices"}
        if unknown:
            raise ValueError(f"{flag}: a command may set default, required and choices only, not {sorted(unknown)}")
        shown = "" if extra.get("default") in (None, False) else " (default: %(default)s)"
        parser.add_argument(flag, *option.aliases, help=option.help + shown, **{**option.kwargs, **extra})
