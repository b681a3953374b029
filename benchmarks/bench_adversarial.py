"""What the AT and DOA baselines cost per training step, next to a clean step, in one run.

For the CIFAR VGG-19 (random weights: speed does not depend on their values), images/s of:
  - a clean train-classifier step (forward, cross-entropy, backward, SGD);
  - crafting the AT batch: PGD-10 (training/configs/at_vgg19_cifar10.yaml's inner attack);
  - the DOA position search alone: a 7x7 gray patch at every stride-1 position (676 forward passes per image);
  - the DOA patch optimisation alone: 30 signed-gradient steps inside the patch.
Each goes through training/classifier/adversarial_training.py's ``adversarial_batch``, the trainer's own path.
Repetitions are interleaved and the median is kept.

    python benchmarks/bench_adversarial.py                              # bf16 where native, batch 32
    OMP_NUM_THREADS=1 python benchmarks/bench_adversarial.py --reps 1   # a quick look on one core
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the training/ tree, from a checkout

from cafd_zoo.attacks.roa import roa_position  # noqa: E402
from cafd_zoo.models import create_model  # noqa: E402
from cafd_zoo.precision import autocast, resolve_precision  # noqa: E402
from training.classifier.adversarial_training import PGDTraining, ROATraining, adversarial_batch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="training batch (default 32)")
    parser.add_argument("--search-images", type=int, default=4, help="images for the DOA search (default 4)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    precision = resolve_precision(args.precision, device)
    torch.manual_seed(0)
    model = create_model("vgg19").to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(args.batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch,), device=device)
    xs, ys = x[: args.search_images], y[: args.search_images]
    generator = torch.Generator(device=device).manual_seed(0)

    def clean_step() -> None:
        with autocast(precision, device):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def search() -> None:
        with autocast(precision, device):
            roa_position(model, xs, ys, size=7, stride=1, generator=generator)

    def craft(spec: PGDTraining | ROATraining) -> Callable[[], object]:
        return lambda: adversarial_batch(spec, model, x, y, generator=generator, precision=precision)

    jobs: dict[str, tuple[int, Callable[[], object]]] = {
        "clean step": (args.batch, clean_step),
        "AT crafting (PGD-10)": (args.batch, craft(PGDTraining())),
        "DOA search (676 positions)": (args.search_images, search),
        "DOA patch (30 steps)": (args.batch, craft(ROATraining(stride=32))),  # one position: the search is one pass
    }
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.reps + 1):  # the first round warms up and is dropped
        for name, (_, job) in jobs.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            tick = time.perf_counter()
            job()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - tick)
    threads = torch.get_num_threads()
    print(f"VGG-19, {device.type}, {precision} + channels_last, {threads} thread(s), torch {torch.__version__}")
    for name, (images, _) in jobs.items():
        seconds = statistics.median(times[name][1:])
        print(f"  {name:<28} {images / seconds:8.1f} img/s  ({seconds:.3f} s for {images} images)")


if __name__ == "__main__":
    main()
