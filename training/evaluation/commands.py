"""``evaluate`` and ``sweep`` on models built from run folders: ``cafd evaluate`` / ``cafd sweep`` with the
same options and run functions, plus the flags that name a classifier run and its defense."""
from __future__ import annotations

import argparse
from typing import Any

from cafd_zoo.evaluation.commands import (
    EVALUATE_DESCRIPTION, SWEEP_DESCRIPTION, add_evaluate_options, add_sweep_options, run_evaluate, run_sweep,
    transfer_source,
)

from ..options import add
from .run_models import defended_from_runs, load_surrogate

MODEL = ("--model", "--purifier", "--classifier-run", "--classifier-config", "--denoiser")


def _evaluate(args: argparse.Namespace) -> int:
    model, release, data, dataset = defended_from_runs(args, args.threat)
    surrogate = load_surrogate(args.surrogate_denoiser, model) if args.surrogate_denoiser else None
    return run_evaluate(args, model, release, data, surrogate, transfer_source(args, dataset))


def _sweep(args: argparse.Namespace) -> int:
    model, release, data, _ = defended_from_runs(args, args.threat)
    return run_sweep(args, model, release, data)


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="error rates under attacks x threat models, as resumable JSON lines",
                       description=EVALUATE_DESCRIPTION + " Here the model may also be a classifier run with "
                       "--denoiser or --purifier.")
    add(p, *MODEL)
    add_evaluate_options(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("sweep", help="error against eps and steps, with the gradient-masking checks",
                       description=SWEEP_DESCRIPTION)
    add(p, *MODEL)
    add_sweep_options(p)
    p.set_defaults(func=_sweep)
