"""``cafd evaluate`` and ``cafd sweep``; ``python -m training evaluate`` / ``sweep`` share their options and
their run functions, and only build the model differently (from run folders)."""
from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import nn

from ..cli_options import OPTIONS, add_options, one
from ..data import ImageSet, embedded_cifar10_sample, load_dataset
from ..models import DefendedClassifier
from ..models.denoiser import ZeroResidual
from .budget_sweep import format_sweep, sweep, sweep_checks, sweep_points
from .driver import run_evaluation
from .summary import format_summary
from .surrogate import Surrogate, release_surrogate
from .transfer_source import TransferSource, release_source

EVALUATE_DESCRIPTION = (
    "Attack a defended model on the first --n test images under each threat model: bare (the classifier alone), "
    "oblivious (crafted on the bare classifier, judged through the denoiser), bpda (purifier backward = identity), "
    "whitebox (end to end), graybox (crafted on --surrogate-denoiser in front of the same classifier, judged on the "
    "real defense), transfer (crafted on --source-classifier, judged on the model: the paper's AT row). One JSON "
    "line per cell (attack and its parameters, threat model, shard) in --out; --resume skips finished cells.")
SWEEP_DESCRIPTION = (
    "Attack each threat model at several budgets (every --eps at the base steps, every --steps at the base eps) on "
    "the first --n test images, one JSON line per point and threat model (a rerun skips finished points; bare and "
    "oblivious share one crafting), then check that error never "
    "falls as eps or steps grow and that an unbounded budget (255) reaches at least 99%: the checks that catch "
    "gradient masking. PGD's step size is max(2/255, 2.5 eps / steps).")
DATA_FLAGS = ("--release", "--data", "--embedded", "--seed", "--batch-size", "--precision", "--device")


def add_evaluate_options(p: argparse.ArgumentParser) -> None:
    """The options of every evaluate command, whatever builds the model."""
    add_options(p, OPTIONS, *DATA_FLAGS, "--attacks", "--eps", "--threat", "--surrogate-denoiser",
                "--source-classifier", "--eot", "--n", "--steps", "--shard-size", "--out", "--resume", "--cache",
                seed={"default": 0}, batch_size={"default": 250}, precision={"default": "auto"},
                attacks={"default": "pgd_n,cafa"}, eps={"default": "8"}, threat={"default": "oblivious,whitebox"},
                eot={"default": 1}, n={"default": 1000}, shard_size={"default": 500}, out={"required": True})


def add_sweep_options(p: argparse.ArgumentParser) -> None:
    """The options of every sweep command, whatever builds the model."""
    add_options(p, OPTIONS, *DATA_FLAGS, "--attack", "--threat", "--eps", "--steps", "--base-eps", "--base-steps",
                "--n", "--out", seed={"default": 0}, batch_size={"default": 250}, precision={"default": "auto"},
                attack={"default": "pgd_n"}, threat={"default": "whitebox"}, eps={"default": "2,4,8,16,255"},
                steps={"default": "5,10,20,50"}, base_eps={"default": "8"}, base_steps={"default": 20},
                n={"default": 500}, out={"required": True})


def evaluation_device(args: argparse.Namespace) -> torch.device:
    """``--device``, or CUDA when there is one: evaluation needs no other choice."""
    return torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))


def evaluation_data(args: argparse.Namespace, dataset: str, **loader: Any) -> ImageSet:
    """The test split of ``dataset`` in ``--data``, or the embedded CIFAR-10 sample with ``--embedded``."""
    if args.embedded:
        return embedded_cifar10_sample()
    if args.data:
        return load_dataset(dataset, args.data, "test", **loader)
    raise ValueError("give --data DIR (the test split) or --embedded (the first 1,000 CIFAR-10 test images)")


def defend(classifier: nn.Module, denoiser: nn.Module | None, threats: list[str]) -> DefendedClassifier:
    """``denoiser`` in front of ``classifier``; with none, only the bare threat model makes sense."""
    if denoiser is None:
        if not set(threats) <= {"bare", "transfer"}:
            raise ValueError("without --denoiser or --purifier there is only the bare classifier: use --threat bare "
                             "(or transfer, with --source-classifier)")
        denoiser = ZeroResidual()
    device = next(classifier.parameters()).device
    return DefendedClassifier(denoiser.to(device), classifier)


def release_model(args: argparse.Namespace, threats: list[str]) -> tuple[DefendedClassifier, str, str]:
    """``--model``: a defended release, or a classifier release behind ``--purifier`` (or alone, for bare)."""
    from ..hub import load
    from ..purifiers import build_purifier

    model = load(args.model, device=evaluation_device(args))
    dataset, purifier = model.release_info["dataset"], getattr(args, "purifier", None)
    if isinstance(model, DefendedClassifier):
        if purifier:
            raise ValueError(f"{args.model} is a defended release already; --purifier goes with a classifier release")
        return model, args.release or args.model, dataset
    denoiser = build_purifier(purifier, seed=args.seed) if purifier else None
    return defend(model, denoiser, threats), args.release or args.model + (f"+{purifier}" if purifier else ""), dataset


def transfer_source(args: argparse.Namespace, dataset: str) -> TransferSource | None:
    """``--source-classifier``, loaded verified on the evaluation's device, or None."""
    if not args.source_classifier:
        return None
    return release_source(args.source_classifier, evaluation_device(args), dataset=dataset)


def run_evaluate(args: argparse.Namespace, model: DefendedClassifier, release: str, data: ImageSet,
                 surrogate: Surrogate | None, source: TransferSource | None = None) -> int:
    """``evaluate`` on a built model: run the cells, print the table and its sanity checks."""
    rows = run_evaluation(model, release, data, args.out, attacks=args.attacks, threats=args.threat, n=args.n,
                          shard_size=args.shard_size, batch_size=args.batch_size, steps=one(args.steps, "--steps"),
                          seed=args.seed, eps=one(args.eps, "--eps"), precision=args.precision, resume=args.resume,
                          surrogate=surrogate, eot=args.eot, images="embedded" if args.embedded else "test",
                          cache_dir=args.cache, source=source)
    print(format_summary(rows, release))
    return 0


def run_sweep(args: argparse.Namespace, model: DefendedClassifier, release: str, data: ImageSet) -> int:
    """``sweep`` on a built model: the budget sweep and its gradient-masking checks."""
    base_eps = one(args.base_eps, "--base-eps")
    points = sweep_points(args.eps, args.steps, base_eps, args.base_steps)
    rows = sweep(model, release, data, args.out, attack=args.attack, threats=args.threat, points=points, n=args.n,
                 batch_size=args.batch_size, seed=args.seed, precision=args.precision,
                 images="embedded" if args.embedded else "test")
    for threat in args.threat:
        mine = [r for r in rows if r["threat_model"] == threat]
        print(f"{release}: {args.attack} / {threat}, first {args.n} test images\n")
        print(format_sweep(mine, sweep_checks(mine, base_eps, args.base_steps)) + "\n")
    return 0


def _cafd_evaluate(args: argparse.Namespace) -> int:
    model, release, dataset = release_model(args, args.threat)
    surrogate = release_surrogate(args.surrogate_denoiser, model) if args.surrogate_denoiser else None
    return run_evaluate(args, model, release, evaluation_data(args, dataset), surrogate,
                        transfer_source(args, dataset))


def _cafd_sweep(args: argparse.Namespace) -> int:
    model, release, dataset = release_model(args, args.threat)
    return run_sweep(args, model, release, evaluation_data(args, dataset))


def add_cafd_commands(sub: Any) -> None:
    """``cafd evaluate`` and ``cafd sweep``, on zoo releases."""
    p = sub.add_parser("evaluate", help="error rates of a release under attacks x threat models, as resumable "
                       "JSON lines", description=EVALUATE_DESCRIPTION)
    add_options(p, OPTIONS, "--model", "--purifier", model={"required": True})
    add_evaluate_options(p)
    p.set_defaults(func=_cafd_evaluate, errors=(ValueError, OSError))
    p = sub.add_parser("sweep", help="error of a release against eps and steps, with the gradient-masking checks",
                       description=SWEEP_DESCRIPTION)
    add_options(p, OPTIONS, "--model", "--purifier", model={"required": True})
    add_sweep_options(p)
    p.set_defaults(func=_cafd_sweep, errors=(ValueError, OSError))
