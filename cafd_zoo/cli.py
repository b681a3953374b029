"""The ``cafd`` command (also ``python -m cafd_zoo``)."""
from __future__ import annotations

import argparse
import inspect
import sys
import time
from typing import Sequence

import torch

from .models import create_model, list_architectures
from .models._registry import get_builder


def _classes_kwarg(name: str, num_classes: int) -> dict[str, int]:
    """``num_classes`` for classifiers; denoisers take none."""
    return {"num_classes": num_classes} if "num_classes" in inspect.signature(get_builder(name)).parameters else {}


def _architectures(args: argparse.Namespace) -> int:
    """Build every matching architecture and print what it is, measured, not quoted."""
    names = list_architectures(args.pattern)
    if not names:
        print(f"no architecture matches {args.pattern!r}; known: {', '.join(list_architectures())}", file=sys.stderr)
        return 2
    x = torch.rand(1, 3, 32, 32)
    print(f"{'architecture':<24}{'parameters':>14}  {'output at 32x32':<18}{'CAM features F':<16}{'build + 1 pass':>15}")
    for name in names:
        start = time.perf_counter()
        model = create_model(name, **_classes_kwarg(name, args.num_classes)).eval()
        with torch.no_grad():
            out = model(x)
            feats = tuple(model.forward_features(x).shape[1:]) if hasattr(model, "forward_features") else None
        seconds = time.perf_counter() - start
        n_params = sum(p.numel() for p in model.parameters())
        feat_txt = "x".join(map(str, feats)) if feats else "- (denoiser)"
        out_txt = "x".join(map(str, out.shape[1:]))
        print(f"{name:<24}{n_params:>14,}  {out_txt:<18}{feat_txt:<16}{seconds:>14.2f}s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cafd", description="CAFD zoo: adversarial-noise removal in class activation feature space."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "architectures",
        help="build the zoo's architectures and print their parameter counts and feature shapes",
        description="Build each architecture with random weights (no download) and print its parameter "
        "count, output shape, the shape of its class activation features F at 32x32, and the build time.",
    )
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter on architecture names (default: all)")
    p.add_argument("--num-classes", type=int, default=10, help="number of classes of the classifiers (default: 10)")
    p.set_defaults(func=_architectures)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
