"""``python -m training <command>``: each area of the training tree adds its own subcommands here."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from cafd_zoo.errors import ZooError

from .classifier import commands as classifier
from .crafting import commands as crafting
from .denoiser import commands as denoiser
from .evaluation import commands as evaluation
from .paper import commands as paper
from .release import commands as release

AREAS = (classifier, crafting, denoiser, evaluation, paper, release)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description="Make, evaluate, export and publish CAFD "
                                     "zoo weights: classifiers, crafted training data, denoisers, the paper's tables.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in AREAS:
        area.register(sub)
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
