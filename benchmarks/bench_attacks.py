"""Attack throughput, side by side: our PGD (cafd_zoo.attacks.pgd) and our CAFA (cafd_zoo.cafa.cafa) against
torchattacks' PGD, on the same model, batch and number of steps.

The model is the CIFAR VGG-19 (cafd_zoo.create_model("vgg19", num_classes=10), random weights: speed does not
depend on their values). Each entry is one whole attack call (random start, k steps of forward + backward to
the input), timed in fp32 NCHW and in bf16 autocast + channels_last (cafd_zoo.precision), images/s. PGD settings
are the evaluation's: L-inf eps 8/255, step 2/255, random start; CAFA runs its official preset with k steps.
Repetitions are interleaved (drift hits every entry alike) after a warm-up, and the median is kept. An entry
that fails in a path is reported as unsupported there, with the error, rather than left out silently.

torchattacks pins an old `requests`, so install it without its dependencies (it needs only torch and scipy):

    .venv/bin/pip install --no-deps torchattacks

    python benchmarks/bench_attacks.py --json benchmarks/results/attacks.json > benchmarks/results/attacks.md
    python benchmarks/bench_attacks.py --batch 8 --steps 2 --reps 1      # a quick check that it runs
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from typing import Callable

import torch

from cafd_zoo import cafa, create_model
from cafd_zoo.attacks import pgd
from cafd_zoo.precision import autocast, native_bf16
from bench_core import LABELS, MODES, precision_of
from bench_core import prepare as in_mode  # the model is converted in place, so every entry re-applies its layout

EPS, STEP = 8 / 255, 2 / 255


def precision(mode: str, device: torch.device) -> contextlib.AbstractContextManager:
    return autocast(precision_of(mode), device)  # type: ignore[arg-type]


def attacks(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
            steps: int) -> dict[str, Callable[[str], torch.Tensor]]:
    """name -> run(mode) returning x_adv."""
    try:
        import torchattacks
    except ImportError:
        raise SystemExit("this benchmark needs torchattacks: .venv/bin/pip install --no-deps torchattacks") from None

    def ours_pgd(mode: str) -> torch.Tensor:
        m, xm = in_mode(model, x, mode)
        with precision(mode, x.device):
            return pgd(m, xm, y, eps=EPS, steps=steps, step_size=STEP, random_start=True)

    def library_pgd(mode: str) -> torch.Tensor:
        m, xm = in_mode(model, x, mode)
        with precision(mode, x.device):
            return torchattacks.PGD(m, eps=EPS, alpha=STEP, steps=steps, random_start=True)(xm, y)

    def ours_cafa(mode: str) -> torch.Tensor:
        m, xm = in_mode(model, x, mode)
        with precision(mode, x.device):
            return cafa(m, xm, steps=steps)

    return {"ours: PGD (cafd_zoo.attacks.pgd)": ours_pgd, f"torchattacks {torchattacks.__version__}: PGD": library_pgd,
            "ours: CAFA (cafd_zoo.cafa, official distance)": ours_cafa}


def timed(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--steps", type=int, default=10, help="attack steps, the same for every attack (default 10)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per entry, median kept (default 3)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=None,
                        help="numeric paths (default: fp32_nchw, and bf16_cl where the device has native bf16)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    modes = args.modes or [m for m in ("fp32_nchw", "bf16_cl") if m != "bf16_cl" or native_bf16(device)]
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    x = torch.rand(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    model = create_model("vgg19", num_classes=10).to(device).eval()
    runs = attacks(model, x, y, args.steps)

    entries: dict[tuple[str, str], Callable[[], object]] = {}
    failures: dict[tuple[str, str], str] = {}
    max_linf: dict[tuple[str, str], float] = {}
    for mode in modes:
        for name, run in runs.items():
            try:  # the warm-up (oneDNN / cuDNN primitive creation, allocator), and a check of the result
                max_linf[(name, mode)] = float((run(mode).float() - x).abs().max())
                entries[(name, mode)] = lambda run=run, mode=mode: run(mode)
            except Exception as exc:  # noqa: BLE001 (any failure means: this path is not supported by this entry)
                failures[(name, mode)] = f"{type(exc).__name__}: {exc}"
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in entries}
    for _ in range(args.reps):
        for key, fn in entries.items():
            samples[key].append(timed(fn, device))
    img_s = {k: args.batch / statistics.median(v) for k, v in samples.items()}

    names = list(runs)
    ours, library, ours_cafa = names
    hardware = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"device {device} ({hardware}), native bf16: {native_bf16(device)}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, batch {args.batch}, {args.steps} steps, median of {args.reps}\n")
    print("Attack throughput on the CIFAR VGG-19 (random weights), images/s of a whole attack call:\n")
    print("| attack | " + " | ".join(LABELS[m] for m in modes) + " |")
    print("|---|" + "---:|" * len(modes))
    for name in names:
        print(f"| {name} | " + " | ".join(
            f"{img_s[(name, m)]:.1f}" if (name, m) in img_s else "unsupported" for m in modes) + " |")
    for label, a, b in (("ours PGD / torchattacks PGD", ours, library), ("our CAFA / our PGD", ours_cafa, ours)):
        print(f"| ratio {label} | " + " | ".join(
            f"{img_s[(a, m)] / img_s[(b, m)]:.2f}x" if (a, m) in img_s and (b, m) in img_s else "—"
            for m in modes) + " |")
    print("\nLargest |x_adv - x| per entry (every entry must stay within eps = 8/255 = 0.0314): " + ", ".join(
        f"{name.split(' (')[0]} / {m}: {v:.4f}" for (name, m), v in max_linf.items()))
    for (name, mode), error in failures.items():
        print(f"\nunsupported: {name} in {LABELS[mode]}: {error}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": str(device), "native_bf16": native_bf16(device), "threads": torch.get_num_threads(),
                       "torch": torch.__version__, "batch": args.batch, "steps": args.steps, "reps": args.reps,
                       "img_per_s": {f"{n} / {m}": v for (n, m), v in img_s.items()},
                       "max_linf": {f"{n} / {m}": v for (n, m), v in max_linf.items()},
                       "unsupported": {f"{n} / {m}": e for (n, m), e in failures.items()}}, f, indent=2)


if __name__ == "__main__":
    main()
