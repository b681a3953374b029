"""The ``cafd`` command (also ``python -m cafd_zoo``)."""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from typing import Sequence

import torch

from .cli_options import OPTIONS, add_options
from .errors import ZooError
from .evaluation.commands import add_cafd_commands
from .hub import download, model_info
from .input_checks import InvalidInputError
from .manifest import load_manifest
from .metrics_table import headline, metrics_table
from .mirror import DEFAULT_TIMEOUT, serve
from .models import create_model, list_architectures
from .weight_sources import RELEASE_STORE_ENV, release_store
from .models._registry import TASKS, architecture_task


def _classes_kwarg(name: str, num_classes: int) -> dict[str, int]:
    """``num_classes`` for classifiers; denoisers and discriminators take none."""
    return {"num_classes": num_classes} if architecture_task(name) == "classifier" else {}


def _architectures(args: argparse.Namespace) -> int:
    """Build every matching architecture and print what it is, measured, not quoted."""
    names = list_architectures(args.pattern, task=args.task)
    if not names:
        known = ", ".join(list_architectures(task=args.task))
        print(f"no {args.task or 'architecture'} matches {args.pattern!r}; known: {known}", file=sys.stderr)
        return 2
    x = torch.rand(1, 3, 32, 32)
    print(f"{'architecture':<24}{'task':<14}{'parameters':>14}  {'output at 32x32':<18}{'CAM features F':<16}"
          f"{'build + 1 pass':>15}")
    for name in names:
        start = time.perf_counter()
        model = create_model(name, **_classes_kwarg(name, args.num_classes)).eval()
        with torch.no_grad():
            out = model(x)
            feats = tuple(model.forward_features(x).shape[1:]) if hasattr(model, "forward_features") else None
        seconds = time.perf_counter() - start
        n_params = sum(p.numel() for p in model.parameters())
        feat_txt = "x".join(map(str, feats)) if feats else "-"
        out_txt = "x".join(map(str, out.shape[1:]))
        print(f"{name:<24}{architecture_task(name):<14}{n_params:>14,}  {out_txt:<18}{feat_txt:<16}{seconds:>14.2f}s")
    return 0


def _list(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    names = manifest.names(args.pattern)
    if not names:
        print(f"no release matches {args.pattern!r}", file=sys.stderr)
        return 2
    print(f"{'release':<26}{'kind':<11}{'dataset':<9}{'status':<13}{'clean':>7}{'PGD obl':>9}{'PGD wb':>9}  summary")
    for name in names:
        r = manifest.release(name)
        numbers = "".join(f"{'-' if v is None else f'{100 * v:.2f}':>{w}}"
                          for v, w in zip(headline(r["metrics"]).values(), (7, 9, 9)))
        print(f"{name:<26}{r['kind']:<11}{r['dataset']:<9}{r['status']:<13}{numbers}  {r['summary']}")
    print("\nerror %, L-inf eps 8/255: clean, PGD-20 oblivious (crafted on the classifier alone: the paper's "
          "setting) and PGD-20 white-box (through the whole model: the worst case); `cafd info NAME` has every "
          "number and its n")
    return 0


def _info(args: argparse.Namespace) -> int:
    info = model_info(args.name)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.name}: {info['summary']}")
    print(f"  kind {info['kind']}, dataset {info['dataset']}, status {info['status']}, licence {info['license']}")
    print(f"  input: {info['input']['size']} in {info['input']['range']}; {info['input']['normalization']}")
    for role, f in info["files"].items():
        size = f"{f['size']:,} bytes" if f["size"] else "no file yet"
        print(f"  {role}: {f['architecture']}({json.dumps(f['arguments'])}), {f['num_params']:,} parameters, "
              f"{size}, {_where(f)}")
        if f["sha256"]:
            print(f"    sha256 {f['sha256']}")
    print(f"  load: {_how_to_load(args.name, info)}")
    print("  metrics:" + ("" if info["metrics"] else " none measured yet"))
    for line in metrics_table(info["metrics"]):
        print(f"    {line}")
    if info["metrics"] and not args.commands:
        print(f"    (`cafd info {args.name} --commands`: the command that measured each, and the attacks' parameters)")
    for m in info["metrics"] if args.commands else []:
        judged = f"{m.get('target', ''):<10} " if "target" in m else ""
        print(f"    {judged}{m['threat_model']:<10} {m['attack']:<10} error {100 * m['error_rate']:6.2f}%  "
              f"n={m['n']}  {json.dumps(m['budget'])}")
        print(f"      command: {m['command']}")
    t = info["training"]
    print(f"  training: config {t['config']}, code commit {t['code_commit']}, seed {t['seed']}")
    for key in ("from_paper", "from_official_code"):
        for d in info["deviations"][key]:
            print(f"  deviation ({key.replace('_', ' ')}): {d}")
    print(f"  paper: {info['paper']}")
    return 0


def _where(f: dict) -> str:
    """Where one weight file of the manifest lives, in words; for the release store, the path found here."""
    if f["source"] == "package":
        return f"package: {f['filename']}"
    where = f"{f['repo_id']}@{f['revision'] or '(unpublished)'}/{f['filename']}"
    store = release_store()
    if f["revision"] and store is not None and (store / f["repo_id"] / f["revision"] / f["filename"]).is_file():
        where += f" (release store: {store / f['repo_id'] / f['revision'] / f['filename']})"
    return where


def _how_to_load(name: str, info: dict) -> str:
    """One line on how this release's files are obtained, by status."""
    return {
        "unpublished": f"no weights yet ({info.get('why_unpublished', 'no reason recorded')}); "
                       "cafd_zoo.load(name, pretrained=False) builds it with random weights",
        "embedded": f"cafd_zoo.load({name!r}): the files ship inside the package, no network",
        "published": f"cafd_zoo.load({name!r}) downloads from the Hugging Face Hub (HF_ENDPOINT for a mirror)",
        "stored": f"cafd_zoo.load({name!r}) from a clone of the repository, offline: the files are in its release "
                  f"store hub/, not on the Hugging Face Hub ({RELEASE_STORE_ENV}=<clone>/hub from elsewhere)"
                  + ("" if release_store() else "; no release store found from here"),
    }[info["status"]]


def _download(args: argparse.Namespace) -> int:
    paths = download(args.name, revision=args.revision, cache_dir=args.cache_dir, endpoint=args.endpoint)
    for role, path in paths.items():
        print(f"{role}: {path} (size and sha256 verified)")
    return 0


def _mirror_serve(args: argparse.Namespace) -> int:
    try:
        serve(args.dir, host=args.host, port=args.port, verbose=args.verbose, timeout=args.timeout)
    except OSError as exc:  # a busy port, a missing folder, an address this machine does not have
        if exc.errno == errno.EADDRINUSE:
            why = f"port {args.port} on {args.host} is in use; choose another with --port (0 picks a free one)"
        elif isinstance(exc, FileNotFoundError):
            why = f"{exc}; give the folder that holds <org>/<name>/<commit>/<file>"
        else:
            why = f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
        print(f"cafd mirror serve: error: {why}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import demo_main

    return demo_main(args.model, args.n, args.figure, args.pgd_steps, args.cafa_steps, args.batch_size)


def _predict(args: argparse.Namespace) -> int:
    import torch

    from .data.cifar10 import CLASSES as CIFAR10_CLASSES
    from .data.svhn import CLASSES as SVHN_CLASSES
    from .hub import load
    from .predict import predict, read_image, resolve_device

    device = resolve_device(args.device)  # before any download: a device that cannot work fails first
    info = model_info(args.name)
    if info["kind"] == "denoiser":
        print(f"cafd predict: error: {args.name} is a denoiser; give a classifier or defended release", file=sys.stderr)
        return 2
    images = torch.stack([read_image(path, resize=args.resize) for path in args.images])
    model = load(args.name, device=device)
    classes = CIFAR10_CLASSES if info["dataset"] == "cifar10" else SVHN_CLASSES
    for path, row in zip(args.images, predict(model, images, classes)):
        parts = [f"{key}: {name} ({100 * conf:.1f}%)" for key, (name, conf) in row.items()]  # type: ignore[misc]
        print(f"{path}: " + ", ".join(parts))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``cafd`` command line: one subcommand per user task, each with its own --help."""
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
    p.add_argument("--task", choices=TASKS, help="only the classifiers, denoisers or discriminators")
    add_options(p, OPTIONS, "--num-classes", num_classes={"default": 10})
    p.set_defaults(func=_architectures)

    p = sub.add_parser(
        "demo", help="attack a defended release on the embedded CIFAR-10 sample and show the defense at work",
        description="Load a DefendedClassifier release (sha256-checked), then on the first N embedded CIFAR-10 test "
        "images report the error of the bare classifier and of the defended one on clean images, oblivious PGD, "
        "CAFA, and full white-box PGD; write a PNG like the paper's Figure 4.",
    )
    add_options(p, OPTIONS, "--model", "--n", model={"default": "cafd_resnet20_cifar10"}, n={"default": 500})
    p.add_argument("--figure", default="cafd_demo.png",
                   help="where to write the picture (default cafd_demo.png; '' for none)")
    p.add_argument("--pgd-steps", type=int, default=20, help="PGD steps (default 20, step 2/255)")
    p.add_argument("--cafa-steps", type=int, default=20, help="CAFA steps (default 20; the official preset uses 100)")
    add_options(p, OPTIONS, "--batch-size", batch_size={"default": 100})
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "predict", help="classify image files with a release, with and without its defense",
        description="Classify image files (PNG, JPEG, ...) with a classifier or defended release and print the class "
        "and confidence of the bare classifier and, for a defended release, of the defended model. Images must be "
        "32x32 unless --resize is given.",
    )
    p.add_argument("name", help="a classifier or defended release, as `cafd list` prints it")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--resize", action="store_true", help="resize other sizes to 32x32 instead of refusing them")
    add_options(p, OPTIONS, "--device", device={"default": "cpu"})
    p.set_defaults(func=_predict)

    p = sub.add_parser("list", help="list the releases of the weights manifest",
                       description="List the releases of the weights manifest with their kind, dataset and status "
                       "(unpublished releases have no weights yet).")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter on release names (default: all)")
    p.set_defaults(func=_list)

    p = sub.add_parser("info", help="show everything the manifest says about a release",
                       description="Architecture, files, sizes, checksums, metrics with their commands, provenance "
                       "and deviations.")
    p.add_argument("name", help="a release name, as `cafd list` prints it")
    p.add_argument("--json", action="store_true", help="print the manifest entry as JSON instead")
    p.add_argument("--commands", action="store_true",
                   help="also list every metric with its attack parameters and the command that measured it")
    p.set_defaults(func=_info)

    p = sub.add_parser("download", help="fetch and verify a release into the cache, for offline use later",
                       description="Fetch every weight file of a release from where cafd_zoo.load looks "
                       "(CAFD_WEIGHTS_DIR, the release store, else huggingface_hub: HF_ENDPOINT, HF_HOME "
                       "and tokens apply) and check its size and sha256. "
                       "Afterwards HF_HUB_OFFLINE=1 loads it without network.")
    p.add_argument("name", help="a release name, as `cafd list` prints it")
    p.add_argument("--revision", help="a Hub revision instead of the manifest's pinned commit")
    p.add_argument("--cache-dir", help="Hugging Face cache folder (default: HF's, honouring HF_HOME)")
    p.add_argument("--endpoint", help="Hub URL (default: HF_ENDPOINT, else huggingface.co)")
    p.set_defaults(func=_download)

    p = sub.add_parser("mirror", help="serve release repositories over HTTP for air-gapped clusters",
                       description="A read-only mirror that speaks the part of the Hugging Face Hub protocol that "
                       "hf_hub_download uses. Point HF_ENDPOINT at it and cafd_zoo.load / torch.hub.load "
                       "work unchanged.")
    mirror_sub = p.add_subparsers(dest="mirror_command", required=True, metavar="MIRROR_COMMAND")
    q = mirror_sub.add_parser("serve", help="serve DIR until interrupted",
                              description="Serve DIR/<org>/<name>/<commit>/<file> (and DIR/<org>/<name>/refs/<branch>) "
                              "at /<org>/<name>/resolve/<revision>/<file>.")
    q.add_argument("dir", help="the mirror folder (training/release/publish.py --mirror-root writes this layout)")
    q.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    q.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    q.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds a connection may sit idle or half-sent before it is dropped "
                   f"(default {DEFAULT_TIMEOUT:g})")
    q.add_argument("--verbose", action="store_true", help="log every request")
    q.set_defaults(func=_mirror_serve)
    add_cafd_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cafd``; a zoo error becomes one line on stderr and exit status 1, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ZooError, InvalidInputError, *getattr(args, "errors", ())) as exc:
        print(f"cafd: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `cafd info NAME | head`: the reader has gone; end quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
