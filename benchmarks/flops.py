"""Multiply-accumulates per 32x32 image of the zoo's networks, counted by torch's FlopCounterMode.

Explains the throughput ratios of bench_core.py: when both networks run at similar efficiency,
a DefendedClassifier can reach at most MACs(classifier) / (MACs(classifier) + MACs(denoiser)).

    python benchmarks/flops.py
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from cafd_zoo import create_model


def macs_per_image(model: torch.nn.Module) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.rand(1, 3, 32, 32))
    return counter.get_total_flops() / 2


def main() -> None:
    rows = {
        "vgg19": macs_per_image(create_model("vgg19")),
        "resnet20": macs_per_image(create_model("resnet20")),
        "resnet50": macs_per_image(create_model("resnet50")),
        "dunet (width 64, official decoder)": macs_per_image(create_model("dunet")),
        "dunet (width 64, upsample decoder)": macs_per_image(create_model("dunet", decoder="upsample")),
        "dunet (width 32, official decoder)": macs_per_image(create_model("dunet", width=32)),
    }
    print("| network | MMACs per 32x32 image |")
    print("|---|---:|")
    for name, macs in rows.items():
        print(f"| {name} | {macs / 1e6:.0f} |")
    vgg = rows["vgg19"]
    print("\n| DefendedClassifier on VGG-19 | compute-bound throughput ceiling vs bare |")
    print("|---|---:|")
    for name, macs in rows.items():
        if name.startswith("dunet"):
            print(f"| {name} | {vgg / (vgg + macs):.2f}x |")


if __name__ == "__main__":
    main()
