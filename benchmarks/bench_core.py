"""Side-by-side speed of the core on one machine, in one run (these machines are noisy).

Prints, for the CIFAR VGG-19 (random weights: speed does not depend on their values):
  1. inference img/s of the bare classifier and of the DefendedClassifier (official DUNET),
     in fp32 and bf16 autocast, each in NCHW and channels_last (the attacks run bf16 + channels_last);
  2. the cost of one CAFA step relative to one plain PGD step (cross-entropy, same model, batch,
     precision), each measured as (time of k2 steps - time of k1 steps) / (k2 - k1), so the
     one-off work (Phi(x), the random start) cancels.
Repetitions are interleaved and the median is kept.

    python benchmarks/bench_core.py                 # batch 256, the numbers in benchmarks/README.md
    python benchmarks/bench_core.py --batch 64 --reps 1   # a quick look
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from typing import Callable

import torch

from cafd_zoo import DefendedClassifier, cafa, create_model
from cafd_zoo.attacks import pgd
from cafd_zoo.precision import autocast, native_bf16


MODES = ("fp32_nchw", "fp32_cl", "bf16_nchw", "bf16_cl")
LABELS = {"fp32_nchw": "fp32 NCHW", "fp32_cl": "fp32 + channels_last",
          "bf16_nchw": "bf16 autocast, NCHW", "bf16_cl": "bf16 autocast + channels_last"}


def precision_of(mode: str) -> str:
    return "bf16" if mode.startswith("bf16") else "fp32"


def layout(mode: str) -> torch.memory_format:
    return torch.channels_last if mode.endswith("_cl") else torch.contiguous_format


def precision_context(mode: str) -> contextlib.AbstractContextManager:
    return autocast(precision_of(mode))  # type: ignore[arg-type]


def prepare(model: torch.nn.Module, x: torch.Tensor, mode: str) -> tuple[torch.nn.Module, torch.Tensor]:
    return model.to(memory_format=layout(mode)), x.contiguous(memory_format=layout(mode))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_times(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    for fn in fns.values():  # warm-up: oneDNN primitive creation, allocator
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():  # interleaved, so drift hits every entry alike
            samples[k].append(timed(fn))
    return {k: statistics.median(v) for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per entry, median kept (default 3)")
    parser.add_argument("--steps", type=int, nargs=2, default=(1, 4), metavar=("K1", "K2"),
                        help="attack step counts (default 1 4)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="numeric paths to time (default: all)")
    parser.add_argument("--attack-modes", nargs="+", choices=MODES, default=None,
                        help="paths for the attack-step timing (default: all, minus bf16 where this CPU emulates it)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    attack_modes = args.attack_modes or [m for m in args.modes if not m.startswith("bf16") or native_bf16("cpu")]
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    x0 = torch.rand(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    vgg = create_model("vgg19").eval()
    models = {
        "VGG-19 (bare)": vgg,
        "DefendedClassifier, DUNET width 64 (official)": DefendedClassifier(create_model("dunet"), vgg).eval(),
        "DefendedClassifier, DUNET width 32 (slim)": DefendedClassifier(create_model("dunet", width=32), vgg).eval(),
    }
    results: dict[str, object] = {
        "cpu": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16("cpu"),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "batch": args.batch, "reps": args.reps,
    }

    infer: dict[tuple[str, str], Callable[[], object]] = {}
    for mode in args.modes:
        for name, model in models.items():
            def run(model=model, mode=mode) -> None:
                m, x = prepare(model, x0, mode)  # converts in place: each entry re-applies its own layout
                with torch.inference_mode(), precision_context(mode):
                    m(x)
            infer[(name, mode)] = run
    t = median_times(infer, args.reps)
    img_s = {k: args.batch / v for k, v in t.items()}
    results["inference_img_per_s"] = {f"{n} / {m}": v for (n, m), v in img_s.items()}

    k1, k2 = args.steps
    attacks: dict[tuple[str, str, int], Callable[[], object]] = {}
    for mode in attack_modes:
        for k in (k1, k2):
            def run_pgd(k=k, mode=mode) -> None:
                m, x = prepare(vgg, x0, mode)
                with precision_context(mode):
                    pgd(m, x, y, steps=k)

            def run_cafa(k=k, mode=mode) -> None:
                m, x = prepare(vgg, x0, mode)
                with precision_context(mode):
                    cafa(m, x, steps=k)
            attacks[("PGD", mode, k)] = run_pgd
            attacks[("CAFA", mode, k)] = run_cafa
    t = median_times(attacks, args.reps)
    step = {(a, m): (t[(a, m, k2)] - t[(a, m, k1)]) / (k2 - k1) for a in ("PGD", "CAFA") for m in attack_modes}
    results["attack_step_s"] = {f"{a} / {m}": v for (a, m), v in step.items()}

    print(f"CPU capability {results['cpu']} (native bf16: {results['native_bf16']}), {results['threads']} threads, "
          f"torch {torch.__version__}, batch {args.batch}, median of {args.reps}; `evaluate` and the attacks run "
          "bf16 autocast + channels_last where bf16 is native\n")
    print("Inference, images/s:\n")
    print("| model | " + " | ".join(LABELS[m] for m in args.modes) + " |")
    print("|---|" + "---:|" * len(args.modes))
    for name in models:
        print(f"| {name} | " + " | ".join(f"{img_s[(name, m)]:.0f}" for m in args.modes) + " |")
    bare = next(iter(models))
    for name in list(models)[1:]:
        print(f"| ratio: {name.split(', ', 1)[1]} / bare | "
              + " | ".join(f"{img_s[(name, m)] / img_s[(bare, m)]:.2f}x" for m in args.modes) + " |")
    for m in args.modes[1:]:
        print(f"| ratio: {LABELS[m]} / {LABELS[args.modes[0]]}, bare | " + " | ".join(
            f"{img_s[(bare, m)] / img_s[(bare, args.modes[0])]:.2f}x" if mm == m else "" for mm in args.modes) + " |")
    if attack_modes:
        print("\nOne attack step on VGG-19 (forward + backward to the input), seconds:\n")
        print("| attack | " + " | ".join(LABELS[m] for m in attack_modes) + " |")
        print("|---|" + "---:|" * len(attack_modes))
        for a in ("PGD", "CAFA"):
            print(f"| {a} | " + " | ".join(f"{step[(a, m)]:.3f}" for m in attack_modes) + " |")
        print("| ratio CAFA / PGD | "
              + " | ".join(f"{step[('CAFA', m)] / step[('PGD', m)]:.2f}x" for m in attack_modes) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
