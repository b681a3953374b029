"""Training throughput side by side, in one run: images/s of one optimizer step of the target
classifier and of the CAFD denoiser, in fp32 and bf16 autocast, each in NCHW and channels_last.

  - VGG-19 classifier step: forward, cross-entropy, backward, SGD (what train-classifier does); with
    ``--adversarial K``, the same step on a batch attacked first with L-inf PGD-K (K = 1: fast adversarial
    training, FGSM from a random start; K = 10: the paper's AT), crafted by train-classifier's own code;
  - denoiser step, paper size: DUNET width 64 + the VGG-style discriminator, L_caf through a frozen VGG-19;
  - denoiser step, compact release: DUNET width 16 + discriminator, L_caf through a frozen ResNet-20.
The denoiser step is training/denoiser/train.py's own ``train_step`` (D step, then C step), not a copy.
Weights are random (speed does not depend on them); repetitions are interleaved, the median is kept.

    python benchmarks/bench_train.py                 # batch 64, the numbers in benchmarks/README.md
    python benchmarks/bench_train.py --modes fp32_nchw fp32_cl --reps 1   # a quick look
    python benchmarks/bench_train.py --classifiers resnet50 wrn28_20 --no-denoisers --modes bf16_cl --batch 32
                                                     # plan a classifier's training (epoch = 50,000 / img/s)
    python benchmarks/bench_train.py --classifiers resnet20 wrn16_4 --adversarial 1 --no-denoisers --modes bf16_cl
                                                     # plan a fast adversarial training
    python benchmarks/bench_train.py --classifiers --no-denoisers --denoiser-classifiers timm:resnet18 --modes bf16_cl
                                                     # plan fine-tuning the released denoiser for your classifier
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # training/ is a source tree, not an installed package

from bench_core import LABELS, MODES, layout, median_times, precision_of  # noqa: E402
from cafd_zoo import create_model  # noqa: E402
from cafd_zoo.precision import native_bf16  # noqa: E402
from training.classifier.adversarial_training import PGDTraining, adversarial_batch  # noqa: E402
from training.denoiser.config import DenoiserConfig  # noqa: E402
from training.denoiser.losses import ClassActivationFeatureLoss  # noqa: E402
from training.engine.distributed import World  # noqa: E402
from training.denoiser.train import train_step  # noqa: E402


def classifier_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, mode: str,
                    adversarial: PGDTraining | None = None) -> Callable[[], object]:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    precision = precision_of(mode)
    generator = torch.Generator().manual_seed(0)

    def step() -> None:
        model.to(memory_format=layout(mode))
        batch = x.contiguous(memory_format=layout(mode))
        if adversarial is not None:
            batch = adversarial_batch(adversarial, model, batch, y, generator=generator, precision=precision)
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(batch)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def denoiser_step(classifier: torch.nn.Module, width: int, x: torch.Tensor, mode: str) -> Callable[[], object]:
    precision = precision_of(mode)
    config = DenoiserConfig(dataset="cifar10", denoiser_width=width, precision=precision, eval_examples=0)
    denoiser, discriminator = create_model("dunet", width=width), create_model("vgg_discriminator")
    classifier = classifier.eval().requires_grad_(False)
    opt_c, opt_d = torch.optim.Adam(denoiser.parameters(), 1e-3), torch.optim.Adam(discriminator.parameters(), 1e-3)
    caf = ClassActivationFeatureLoss(classifier, config.caf_loss)
    world = World(0, 1, torch.device("cpu"))
    x_adv = (x + (torch.rand_like(x) - 0.5) * 16 / 255).clamp(0, 1)

    def step() -> None:
        for m in (classifier, denoiser, discriminator):
            m.to(memory_format=layout(mode))
        denoiser.train()
        discriminator.train()
        train_step(config, precision, world, denoiser, discriminator, discriminator, opt_c, opt_d, caf,
                   x.contiguous(memory_format=layout(mode)), x_adv.contiguous(memory_format=layout(mode)))
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per entry, median kept (default 3)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="numeric paths to time (default: all)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--classifiers", nargs="*", default=["vgg19"], metavar="ARCH",
                        help="classifier architectures whose training step to time (default: vgg19; none: no flag "
                             "values)")
    parser.add_argument("--no-denoisers", action="store_true", help="time the classifier steps only")
    parser.add_argument("--denoiser-classifiers", nargs="+", default=[], metavar="ARCH",
                        help="also time the paper-size denoiser step with L_caf through each of these classifiers, "
                             "e.g. timm:resnet18 resnet50: what fine-tuning the released denoiser for that classifier "
                             "costs (finetune_denoiser.sh: 2 epochs of 10,000 pairs)")
    parser.add_argument("--adversarial", type=int, metavar="K", default=0,
                        help="also time each classifier's adversarial training step: PGD-K at eps 8/255 first "
                             "(1: fast adversarial training; 10: the paper's AT)")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    x = torch.rand(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    vgg, resnet20 = create_model("vgg19"), create_model("resnet20")
    steps: dict[tuple[str, str], Callable[[], object]] = {}
    for mode in args.modes:
        for arch in args.classifiers:
            name = "VGG-19" if arch == "vgg19" else arch
            steps[(f"{name} classifier step (SGD)", mode)] = classifier_step(create_model(arch), x, y, mode)
            if args.adversarial:
                k = args.adversarial
                spec = PGDTraining(steps=k, step_size=10 / 255 if k == 1 else 2 / 255)  # Wong et al.'s FGSM step
                steps[(f"{name} classifier step, PGD-{k} adversarial training", mode)] = classifier_step(
                    create_model(arch), x, y, mode, adversarial=spec)
        if not args.no_denoisers:
            steps[("denoiser step: DUNET-64 + D, L_caf through VGG-19 (paper)", mode)] = denoiser_step(vgg, 64, x, mode)
            steps[("denoiser step: DUNET-16 + D, L_caf through ResNet-20 (compact)", mode)] = denoiser_step(
                resnet20, 16, x, mode)
        for arch in args.denoiser_classifiers:
            steps[(f"fine-tuning step: DUNET-64 + D, L_caf through {arch}", mode)] = denoiser_step(
                create_model(arch), 64, x, mode)
    seconds = median_times(steps, args.reps)
    img_s = {k: args.batch / v for k, v in seconds.items()}
    results = {"cpu": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16("cpu"),
               "threads": torch.get_num_threads(), "torch": torch.__version__, "batch": args.batch, "reps": args.reps,
               "train_img_per_s": {f"{n} / {m}": v for (n, m), v in img_s.items()}}
    print(f"CPU capability {results['cpu']} (native bf16: {results['native_bf16']}), {results['threads']} threads, "
          f"torch {torch.__version__}, batch {args.batch}, median of {args.reps}\n")
    print("Training, images/s (one optimizer step; the denoiser step includes D's step):\n")
    print("| step | " + " | ".join(LABELS[m] for m in args.modes) + " |")
    print("|---|" + "---:|" * len(args.modes))
    names = list(dict.fromkeys(n for n, _ in steps))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{img_s[(name, m)]:.1f}" for m in args.modes) + " |")
    first = args.modes[0]
    for name in names:
        print(f"| ratio to {LABELS[first]}: {name} | "
              + " | ".join(f"{img_s[(name, m)] / img_s[(name, first)]:.2f}x" for m in args.modes) + " |")
    for name in names:  # what a schedule is planned with
        if "classifier step" in name:
            print(f"| minutes per CIFAR-10 epoch (50,000 images): {name} | "
                  + " | ".join(f"{50_000 / img_s[(name, m)] / 60:.0f}" for m in args.modes) + " |")
    for name in names:
        if name.startswith("fine-tuning step"):
            print(f"| minutes per fine-tuning epoch (10,000 pairs): {name} | "
                  + " | ".join(f"{10_000 / img_s[(name, m)] / 60:.0f}" for m in args.modes) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
