"""Warm-cache load time of a VGG-19 + DUNET release (about 124 MB), sha256 checks included,
against plain ``safetensors.torch.load_file`` of the same two files, side by side in one run.

The release (random weights) is exported and published into a local mirror, downloaded once
over HTTP on 127.0.0.1 into a fresh Hugging Face cache, then loaded from that cache
(``local_files_only=True``) with every check the zoo always makes.

    python benchmarks/bench_load.py
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the training/ tree, from a checkout

import cafd_zoo  # noqa: E402
from cafd_zoo.integrity import sha256_of  # noqa: E402
from cafd_zoo.manifest import load_manifest  # noqa: E402
from cafd_zoo.mirror import MirrorServer  # noqa: E402
from cafd_zoo.models import create_model  # noqa: E402
from training.release.export import Component, ReleaseSpec, export_release  # noqa: E402
from training.release.publish import publish  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=7, help="timed loads of each kind, median kept (default 7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        export_release(
            "cafd_vgg19_cifar10",
            [Component("denoiser", "bench_dunet", "dunet", {}, create_model("dunet"), repo_id="bench/dunet"),
             Component("classifier", "bench_vgg19", "vgg19", {"num_classes": 10}, create_model("vgg19"),
                       repo_id="bench/vgg19")],
            ReleaseSpec(kind="defended", dataset="cifar10", summary="benchmark release",
                        wrapper={"clamp": True, "input_size": [32, 32]}),
            root / "export", root / "manifest.json",
        )
        publish("cafd_vgg19_cifar10", root / "export", root / "manifest.json", mirror_root=root / "mirror")
        manifest = load_manifest(root / "manifest.json")
        with MirrorServer(root / "mirror") as server:
            paths = cafd_zoo.download("cafd_vgg19_cifar10", manifest=manifest, endpoint=server.url,
                                      cache_dir=root / "cache")
        total = sum(p.stat().st_size for p in paths.values())

        def zoo_load() -> None:
            cafd_zoo.load("cafd_vgg19_cifar10", manifest=manifest, cache_dir=root / "cache", local_files_only=True)

        def plain_load() -> None:
            for p in paths.values():
                load_file(str(p))

        def usual_recipe() -> None:
            """What a user writes without the zoo: build the models, load the files, no checks."""
            create_model("dunet").load_state_dict(load_file(str(paths["denoiser"])), strict=True)
            create_model("vgg19").load_state_dict(load_file(str(paths["classifier"])), strict=True)

        def hash_only() -> None:
            for p in paths.values():
                sha256_of(p)

        fns = {"zoo": zoo_load, "plain": plain_load, "recipe": usual_recipe, "hash": hash_only}
        times: dict[str, list[float]] = {k: [] for k in fns}
        for fn in fns.values():  # warm the page cache and the imports
            fn()
        for _ in range(args.reps):
            for key, fn in fns.items():
                start = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - start)
    zoo, plain, recipe, hashing = (statistics.median(times[k]) for k in ("zoo", "plain", "recipe", "hash"))
    print(f"{total / 1e6:.1f} MB in 2 files, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.reps}\n")
    print("| load | seconds |")
    print("|---|---:|")
    print("| `safetensors.torch.load_file` of both files (lazy mmap: no byte read, no check, no model) "
          f"| {plain:.3f} |")
    print(f"| build both models + `load_file` + strict `load_state_dict` (the usual recipe, no check) | {recipe:.3f} |")
    print(f"| sha256 of both files, one thread, chunked reads (the floor of any full check) | {hashing:.3f} |")
    print("| `cafd_zoo.load` from the warm HF cache (size + sha256 of both, strict load, DefendedClassifier built) "
          f"| {zoo:.3f} |")
    print(f"| ratio `cafd_zoo.load` / lazy `load_file` | {zoo / plain:.2f}x |")
    print(f"| ratio `cafd_zoo.load` / usual recipe | {zoo / recipe:.2f}x |")


if __name__ == "__main__":
    main()
